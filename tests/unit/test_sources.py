"""The pure side of capture's lead sources: signatures, reading each provider's documented
payload, the one field mapping, and CSV rows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.capture.imports import BadFileError, decode_csv, read_rows, row_submission
from services.capture.intake import InvalidLeadError, lead_from_payload
from services.capture.mapping import Submission, field_key, payload_from_submission, truthy
from services.capture.providers import (
    common,
    facebook,
    google_ads,
    hubspot,
    linkedin,
    typeform,
    unbounce,
    webflow,
)
from services.capture.providers.signing import BadSignatureError, verify_token
from shared.org import ImportSource, WebhookForm, WebhookSource
from tests.provider_kit import (
    facebook_headers,
    fixture,
    fixture_json,
    linkedin_headers,
    sign_hubspot,
    typeform_headers,
    webflow_headers,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
BODY = '{"name": "Zoë", "id": 12345678901234567890}'.encode()


# --- signatures ---------------------------------------------------------------------------

@pytest.mark.parametrize(("verify", "headers", "ok"), [
    (lambda h, b: facebook.verify_signature(h, b, "fb-app-secret"), facebook_headers(BODY), True),
    (lambda h, b: facebook.verify_signature(h, b, "other"), facebook_headers(BODY), False),
    (lambda h, b: facebook.verify_signature(h, b, "fb-app-secret"),
     {"x-hub-signature-256": facebook_headers(BODY)["x-hub-signature-256"][7:]}, False),
    (lambda h, b: facebook.verify_signature(h, b, "fb-app-secret"),
     {"x-hub-signature-256": facebook_headers(BODY)["x-hub-signature-256"].upper()
      .replace("SHA256=", "sha256=")}, True),
    (lambda h, b: linkedin.verify_signature(h, b, "li-client-secret"), linkedin_headers(BODY),
     True),
    # The body alone is not LinkedIn's scheme.
    (lambda h, b: linkedin.verify_signature(h, b, "li-client-secret"),
     {"x-li-signature": hmac.new(b"li-client-secret", BODY, hashlib.sha256).hexdigest()},
     False),
    (lambda h, b: typeform.verify_signature(h, b, "tf-secret"), typeform_headers(BODY), True),
    (lambda h, b: typeform.verify_signature(h, b, "tf-secret"),  # hex is not Typeform's encoding
     {"typeform-signature": "sha256=" + hmac.new(b"tf-secret", BODY, hashlib.sha256)
      .hexdigest()}, False),
    (lambda h, b: webflow.verify_signature(h, b, "wf-secret", now=NOW, max_age_s=300),
     webflow_headers(BODY, NOW_MS - 1000), True),
    (lambda h, b: webflow.verify_signature(h, b, "wf-secret", now=NOW, max_age_s=300),
     webflow_headers(BODY, NOW_MS - 301_000), False),
    (lambda h, b: webflow.verify_signature(h, b, "wf-secret", now=NOW, max_age_s=300),
     {**webflow_headers(BODY, NOW_MS), "x-webflow-timestamp": str(NOW_MS + 1)}, False),
    (lambda h, b: webflow.verify_signature(h, b, "wf-secret", now=NOW, max_age_s=300),
     {**webflow_headers(BODY, NOW_MS), "x-webflow-timestamp": "yesterday"}, False),
])
def test_each_provider_signature_is_checked_over_the_raw_bytes(verify, headers, ok) -> None:
    if ok:
        verify(headers, BODY)
        with pytest.raises(BadSignatureError):
            verify(headers, BODY + b" ")  # one byte more: another digest
    else:
        with pytest.raises(BadSignatureError):
            verify(headers, BODY)


def test_typeform_signature_is_padded_base64_under_a_sha256_prefix() -> None:
    digest = hmac.new(b"tf-secret", BODY, hashlib.sha256).digest()
    typeform.verify_signature(
        {"typeform-signature": "sha256=" + base64.b64encode(digest).decode()}, BODY, "tf-secret")
    for wrong in ("sha256=" + digest.hex(),  # hex, as Meta signs: not Typeform's encoding
                  base64.b64encode(digest).decode()):  # no prefix
        with pytest.raises(BadSignatureError):
            typeform.verify_signature({"typeform-signature": wrong}, BODY, "tf-secret")


def test_hubspot_v3_signs_method_uri_body_and_timestamp_within_five_minutes() -> None:
    uri = "https://leads.example.com/v1/webhooks/hubspot?a=1&b=%3A"
    message = b"POST" + b"https://leads.example.com/v1/webhooks/hubspot?a=1&b=:" + BODY + \
        str(NOW_MS).encode()
    expected = base64.b64encode(hmac.new(b"hs", message, hashlib.sha256).digest()).decode()
    assert sign_hubspot("hs", "POST", uri, BODY, NOW_MS) == expected
    headers = {"x-hubspot-signature-v3": expected, "x-hubspot-request-timestamp": str(NOW_MS)}
    hubspot.verify_signature(headers, BODY, "hs", method="POST", uri=uri, now=NOW,
                             max_age_s=300)
    later = NOW + timedelta(minutes=5, seconds=1)
    with pytest.raises(BadSignatureError, match="old"):
        hubspot.verify_signature(headers, BODY, "hs", method="POST", uri=uri, now=later,
                                 max_age_s=300)
    with pytest.raises(BadSignatureError):
        hubspot.verify_signature(headers, BODY, "hs", method="POST",
                                 uri=uri.replace("a=1", "a=2"), now=NOW, max_age_s=300)


@pytest.mark.parametrize(("uri", "signed"), [
    ("https://h/x?q=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B", "https://h/x?q=:/?@!$'()*,;"),
    ("https://h/x?q=%20%26", "https://h/x?q=%20%26"),  # not on HubSpot's list: kept
    ("https://h/x?q=%3a", "https://h/x?q=:"),
])
def test_hubspot_decodes_only_its_listed_escapes_before_signing(uri, signed) -> None:
    assert hubspot.signed_uri(uri) == signed


def test_linkedin_challenge_response_is_hex_hmac_of_the_code() -> None:
    assert linkedin.challenge_response("f3a6", "secret") == \
        hmac.new(b"secret", b"f3a6", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("given", "ok"), [("k3y", True), ("k3y ", False), ("", False),
                                           (None, False), ("K3Y", False)])
def test_shared_keys_compare_exactly(given, ok) -> None:
    if ok:
        verify_token(given, "k3y", "token")
    else:
        with pytest.raises(BadSignatureError):
            verify_token(given, "k3y", "token")


# --- reading bodies -------------------------------------------------------------------------

def test_integers_of_any_size_are_kept_exact_as_ids() -> None:
    doc = common.load_json(b'{"a": 18446744073709551617, "b": 9007199254740993, "c": 1}')
    assert doc == {"a": "18446744073709551617", "b": 9007199254740993, "c": 1}
    assert common.text_id(doc["a"], "a") == "18446744073709551617"
    assert common.text_id(9007199254740993, "b") == "9007199254740993"


@pytest.mark.parametrize("body", [b"", b"{", b"[" * 5000, b'"\\ud800"', b"\xff\xfe", b"NaN"])
def test_unreadable_json_is_a_bad_delivery_naming_the_body(body) -> None:
    with pytest.raises(common.BadDeliveryError) as bad:
        common.load_json(body)
    assert bad.value.field == "body"


@pytest.mark.parametrize(("value", "expected"), [
    ("2015-02-28T08:49:14+0000", datetime(2015, 2, 28, 8, 49, 14, tzinfo=UTC)),
    (1440120384, datetime(2015, 8, 21, 1, 26, 24, tzinfo=UTC)),
    (1689894599288, datetime(2023, 7, 20, 23, 9, 59, 288000, tzinfo=UTC)),
    ("2022-09-14T12:35:16.117Z", datetime(2022, 9, 14, 12, 35, 16, 117000, tzinfo=UTC)),
    ("2025-04-14 12:40:51", datetime(2025, 4, 14, 12, 40, 51, tzinfo=UTC)),
    ("soon", None), (None, None), (True, None),
])
def test_sender_timestamps_in_each_providers_format(value, expected) -> None:
    assert common.parse_time(value) == expected


# --- each provider's documented payload -----------------------------------------------------

def lead_of(sub: Submission, mappings=None):
    payload, _ = payload_from_submission(sub, mappings or [])
    return lead_from_payload(payload, provider=sub.provider, channel=sub.channel, now=NOW,
                             sender_id=sub.sender_id, lenient=True)


def test_facebook_notification_lists_every_change_of_every_entry_with_string_ids() -> None:
    parsed = facebook.parse(fixture("facebook_leadgen_webhook_batched.json"))
    assert len(parsed.items) == 5
    assert all(isinstance(i, common.Fetch) and isinstance(i.sender_id, str) for i in parsed.items)
    assert parsed.items[-1].where == "entry[1].changes[2]"


def test_facebook_lead_maps_field_data_and_consent_checkboxes() -> None:
    fetch = facebook.parse(fixture("facebook_leadgen_webhook.json")).items[0]
    lead = lead_of(facebook.submission(fetch, fixture_json(
        "facebook_graph_lead_combined.json")))
    assert lead.contact.email == "joe@example.com"
    assert (lead.contact.first_name, lead.contact.last_name) == ("Joe", "Example")
    assert lead.consent.marketing is True and lead.consent.basis == "consent"
    assert [(i.key, i.checked) for i in lead.consent.items] == [("optional_1", True),
                                                                ("optional_2", False)]
    assert lead.consent.captured_at == datetime(2015, 2, 28, 8, 49, 14, tzinfo=UTC)
    assert lead.custom["car_make"] == "Honda"
    assert lead.source.ad_id == "12312312312" and lead.source.channel == "ad_platform"


def test_a_change_that_is_not_a_lead_is_ignored() -> None:
    body = json.dumps({"object": "page", "entry": [{"changes": [
        {"field": "feed", "value": {}}]}]}).encode()
    assert facebook.parse(body).ignored == 1


@pytest.mark.parametrize(("name", "test"), [("google_ads_lead_test.json", True),
                                            ("google_ads_lead_production.json", False)])
def test_google_ads_columns_map_by_column_id_and_is_test_flags(name, test) -> None:
    doc = fixture_json(name)
    assert google_ads.google_key(doc) == "xfdgdgsgfchgvhgfchg"
    lead = lead_of(google_ads.parse(doc).items[0])
    assert lead.flags.test is test
    assert lead.contact.phone == "+11234567890"
    assert lead.contact.first_name == "John" and lead.source.form_id == "1234"


def test_linkedin_answers_map_through_the_forms_predefined_fields() -> None:
    fetch = linkedin.parse(fixture("linkedin_lead_notification.json")).items[0]
    assert fetch.sender_id.startswith("urn:li:leadGenFormResponse:")
    lead = lead_of(linkedin.submission(fetch, fixture_json(
        "linkedin_lead_form_response.json"), fixture_json("linkedin_lead_form.json")))
    assert lead.contact.email == "kevjohonson@email.com"
    assert lead.custom["WORK_EMAIL"] == "kjohonson@email.com"  # a second email is kept
    assert lead.title.raw == "Senior Engineer" and lead.flags.test is True
    assert lead.custom["hidden_field"] == "abc678"
    assert lead.source.campaign_id == "198356826" and lead.source.form_id == "7234246"


def test_linkedin_deleted_notification_is_not_a_lead() -> None:
    doc = fixture_json("linkedin_lead_notification.json") | {"leadAction": "DELETED"}
    assert linkedin.parse(json.dumps(doc).encode()) == common.Parsed([], ignored=1)


def test_typeform_answers_by_ref_through_an_org_mapping_and_hidden_fields_as_utm() -> None:
    doc = fixture_json("typeform_form_response.json")
    doc["form_response"]["hidden"] = {"utm_source": "ads", "gclid": "g1"}
    sub = typeform.parse(json.dumps(doc).encode()).items[0]
    mapping = WebhookSource(forms=[WebhookForm(id="lT4Z3j", fields={
        "readable_ref_short_text": "first_name"})])
    lead = lead_of(sub, [mapping.forms[0], mapping])
    assert lead.contact.first_name == "Laura" and lead.contact.email == "laura@example.com"
    assert lead.source.utm_source == "ads" and lead.custom["gclid"] == "g1"
    assert lead.consent.items[0].text.startswith("By submitting this form")


def test_hubspot_contact_properties_and_its_lead_id_from_vid_and_conversion() -> None:
    sub = hubspot.parse(fixture("hubspot_workflow_contact_legacy.json")).items[0]
    assert sub.sender_id is not None and sub.sender_id.startswith("71:")
    lead = lead_of(sub)
    assert lead.contact.email == "perf_user_970@test.com"
    assert not any(k.startswith("hs_social") for k in lead.custom)


def test_webflow_numbers_become_text_and_labels_map() -> None:
    lead = lead_of(webflow.parse(fixture("webflow_form_submission.json")).items[0])
    assert lead.contact.phone == "+15550000000"
    assert lead.contact.first_name == "Zaphod" and lead.contact.last_name == "Beeblebrox"


def test_unbounce_lists_unwrap_and_the_same_post_is_the_same_lead() -> None:
    from urllib.parse import parse_qsl

    fields = dict(parse_qsl(fixture("unbounce_form_submit.txt").decode().strip()))
    one, two = (unbounce.parse(fields).items[0] for _ in range(2))
    assert one.sender_id == two.sender_id
    other = dict(fields, **{"data.json": fields["data.json"].replace("test@", "else@")})
    assert unbounce.parse(other).items[0].sender_id != one.sender_id
    assert one.submitted_at == datetime(2023, 6, 6, 22, 57, tzinfo=UTC)
    assert lead_of(one).contact.email == "test@test.com"


# --- the one mapping ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "target"), [
    ("Email", "email"), ("WORK_EMAIL", "email"), ("E-Mail Address", "email"),
    ("PHONE_NUMBER", "phone"), ("mobilephone", "phone"), ("firstname", "first_name"),
    ("Company Name", "company"), ("jobtitle", "job_title"), ("utm_source", "utm_source"),
    ("Country/Region", "country"), ("GDPR consent", "consent"), ("JOB_FUNCTION", None),
])
def test_conventional_names_map_case_and_punctuation_blind(name, target) -> None:
    from services.capture.mapping import CONVENTIONAL

    assert CONVENTIONAL.get(field_key(name)) == target


@pytest.mark.parametrize(("value", "checked"), [
    ("on", True), ("1", True), ("yes", True), (True, True), (["", "1"], True), ("", False),
    ("0", False), ("no", False), (None, False), (0, False),
])
def test_checkbox_values(value, checked) -> None:
    assert truthy(value) is checked


def test_the_org_mapping_wins_then_names_then_custom_and_first_value_wins() -> None:
    sub = Submission(provider="webflow", channel="web_form", where="", sender_id="s1",
                     answers={"Your work address": "ana@acme.io", "email": "other@x.io",
                              "Budget": ["10k", "20k"], "skip me": "x"})
    mapping = WebhookSource(fields={"Your work address": "email", "skip me": "ignore",
                                    "Budget": "custom.budget"})
    payload, origin = payload_from_submission(sub, [mapping])
    assert payload["email"] == "ana@acme.io" and origin["contact.email"] == "Your work address"
    assert payload["custom"] == {"email": "other@x.io", "budget": ["10k", "20k"]}


def test_an_invalid_field_is_named_as_the_sender_names_it() -> None:
    sub = Submission(provider="form", channel="web_form", where="", sender_id="s2",
                     answers={"your-email": "ana@", "Phone": "12"})
    payload, origin = payload_from_submission(sub, [WebhookSource(fields={
        "your-email": "email"})])
    with pytest.raises(InvalidLeadError) as bad:
        lead_from_payload(payload, provider="form", channel="web_form", now=NOW,
                          sender_id="s2")
    assert origin[bad.value.field] == "your-email"


def test_lenient_senders_keep_a_lead_whose_phone_is_bad_but_email_good() -> None:
    payload = {"email": "ana@acme.io", "phone": "12", "country": "Narnia"}
    lead = lead_from_payload(payload, provider="typeform", channel="web_form", now=NOW,
                             sender_id="t", lenient=True)
    assert lead.contact.phone is None and lead.country is None
    assert set(lead.custom["invalid_fields"]) == {"phone", "country"}
    with pytest.raises(InvalidLeadError):
        lead_from_payload({"phone": "12"}, provider="typeform", channel="web_form", now=NOW,
                          sender_id="t", lenient=True)


# --- CSV ------------------------------------------------------------------------------------

def test_csv_rows_are_numbered_like_a_spreadsheet_and_blank_rows_skipped() -> None:
    header, rows = read_rows("email;name\na@x.io;A\n\nb@x.io;B\n", 100)
    assert header == ["email", "name"]
    assert [(r.number, r.values["email"]) for r in rows] == [(2, "a@x.io"), (4, "b@x.io")]


def test_csv_encodings_and_bad_headers() -> None:
    assert decode_csv("\ufeffemail\n".encode()) == "email\n"
    assert decode_csv("Firma\nMüller\n".encode("cp1252")) == "Firma\nMüller\n"
    for text, why in (("", "must name the columns"), ("\n\n", "must name the columns"),
                      ("a,a\n1,2\n", "appears twice"), ("x\x00y\n", "NUL bytes")):
        with pytest.raises(BadFileError, match=why):
            _, rows = read_rows(text, 10)
            list(rows)
    _, rows = read_rows("email\n" + "a@b.io\n" * 3, 2)
    with pytest.raises(BadFileError, match="more than 2 rows"):
        list(rows)


def test_a_row_maps_through_the_import_columns_and_the_same_row_is_the_same_lead() -> None:
    _, rows = read_rows("E-Mail,Firma\njan@k.example,Kontor\n", 10)
    row = next(iter(rows))
    layout = ImportSource(id="scans", columns={"E-Mail": "email", "Firma": "company"},
                          defaults={"utm_source": "expo"}, channel="event")
    sub = row_submission(row, source_id="scans", channel="event")
    payload, _ = payload_from_submission(sub, [layout], columns=True)
    assert payload["email"] == "jan@k.example" and payload["company"] == "Kontor"
    assert payload["source"]["utm_source"] == "expo"
    assert row_submission(row, source_id="scans", channel="event").sender_id == sub.sender_id


# --- the registry ---------------------------------------------------------------------------

def test_every_provider_is_registered_by_its_name_with_real_settings() -> None:
    from services.capture.providers import PROVIDERS
    from shared.settings import Settings

    assert list(PROVIDERS) == ["facebook", "google_ads", "linkedin", "typeform", "hubspot",
                               "webflow", "unbounce"]
    for name, provider in PROVIDERS.items():
        assert provider.name == name
        assert provider.settings
        for setting in (*provider.settings, *provider.handshake_settings):
            assert setting in Settings.model_fields, (name, setting)
        assert (provider.handshake is None) == (not provider.handshake_settings)
        assert (provider.fetch is None) == (provider.from_fetched is None)
    assert provider.missing(Settings(unbounce_token="t")) == []
    assert provider.missing(Settings(unbounce_token="")) == ["LEADFLOW_UNBOUNCE_TOKEN"]
