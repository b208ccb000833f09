"""Intake: what capture accepts as a lead, in either shape; the lead id a retry reproduces;
the person key that carries no personal data; and the 422 that names the field."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from services.capture import replies
from services.capture.intake import (
    MAX_FIELD_CHARS,
    InvalidLeadError,
    derive_lead_id,
    lead_from_payload,
)
from shared.errors import InvalidInputError, PermanentError
from shared.lead import Lead
from tests.builders import NOW


def capture(payload: Any, *, provider: str = "api", channel: str = "api",
            sender_id: str | None = None, now: datetime = NOW) -> Lead:
    return lead_from_payload(payload, provider=provider, channel=channel, now=now,
                             sender_id=sender_id)


def refusal(payload: Any) -> InvalidLeadError:
    with pytest.raises(InvalidLeadError) as caught:
        capture(payload)
    return caught.value


# --- shapes ----------------------------------------------------------------------------

NESTED = {
    "contact": {"email": "Ana.Diaz@Acme.com", "phone": "+1 415 555 0123",
                "first_name": "Ana", "last_name": "Diaz"},
    "company": {"name": "Acme", "employees": 250, "industry": "software"},
    "title": {"raw": "VP of Sales"},
    "country": "United States",
    "source": {"form_id": "demo", "utm_source": "google", "utm_campaign": "spring"},
    "consent": {"marketing": True, "basis": "consent", "text": "Yes, email me"},
    "activities": [{"type": "demo_request", "at": "2025-03-03T11:58:00Z"}],
    "custom": {"seats": 40},
}
FLAT = {
    "email": "Ana.Diaz@Acme.com", "phone": "+1 415 555 0123",
    "first_name": "Ana", "last_name": "Diaz",
    "company": "Acme", "job_title": "VP of Sales", "country": "United States",
    "form_id": "demo", "utm_source": "google", "utm_campaign": "spring", "seats": 40,
}


@pytest.mark.parametrize("payload", [NESTED, FLAT], ids=["nested", "flat"])
def test_nested_and_flat_shapes_give_the_same_lead(payload: dict[str, Any]) -> None:
    lead = capture(payload, provider="typeform", channel="web_form")

    assert lead.contact.model_dump() == {"email": "ana.diaz@acme.com", "phone": "+14155550123",
                                         "first_name": "Ana", "last_name": "Diaz"}
    assert lead.company.name == "Acme"
    assert lead.title.raw == "VP of Sales"
    assert lead.country == "US"
    assert (lead.source.provider, lead.source.channel) == ("typeform", "web_form")
    assert (lead.source.form_id, lead.source.utm_source, lead.source.utm_campaign) == (
        "demo", "google", "spring")
    assert lead.custom == {"seats": 40}
    assert lead.received_at == NOW == lead.timings.received_at


def test_nested_shape_keeps_consent_and_activities() -> None:
    lead = capture(NESTED)

    assert (lead.consent.marketing, lead.consent.basis) == (True, "consent")
    assert [(a.type, a.at) for a in lead.activities] == [
        ("demo_request", datetime(2025, 3, 3, 11, 58, tzinfo=UTC))]
    assert lead.company.employees == 250


def test_nested_value_wins_over_the_same_flat_name() -> None:
    lead = capture({"email": "flat@acme.com", "contact": {"email": "nested@acme.com"},
                    "utm_source": "flat", "source": {"utm_source": "nested"}})

    assert lead.contact.email == "nested@acme.com"
    assert lead.source.utm_source == "nested"


@pytest.mark.parametrize(
    ("full_name", "first", "last"),
    [
        ("Ana Diaz", "Ana", "Diaz"),
        ("Diaz, Ana", "Ana", "Diaz"),
        ("Dr. Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Madonna", "Madonna", None),
        ("  JOSÉ   MÜLLER ", "José", "Müller"),
    ],
)
def test_full_name_is_split_into_first_and_last(
    full_name: str, first: str, last: str | None
) -> None:
    lead = capture({"email": "x@acme.com", "full_name": full_name})

    assert (lead.contact.first_name, lead.contact.last_name) == (first, last)


def test_full_name_does_not_override_given_names() -> None:
    lead = capture({"email": "x@acme.com", "full_name": "Someone Else", "first_name": "Ana"})

    assert (lead.contact.first_name, lead.contact.last_name) == ("Ana", None)


@pytest.mark.parametrize(
    ("first", "last"),
    [("Zoë", "Łukasiewicz"), ("Søren", "Kierkegaard"), ("山田", "太郎"), ("Ngũgĩ", "wa Thiong'o"),
     ("José", "Müller-Lüdenscheidt")],
)
def test_non_ascii_names_are_kept_as_given(first: str, last: str) -> None:
    lead = capture({"email": "x@acme.com", "first_name": first, "last_name": last})

    assert (lead.contact.first_name, lead.contact.last_name) == (first, last)


def test_unknown_flat_fields_are_kept_under_custom_as_given() -> None:
    lead = capture({"email": "x@acme.com", "seats": 40, "plan": {"tier": "pro"},
                    "interests": ["sso", "audit"], "custom": {"crm": "hubspot"},
                    "website": " https://acme.com "})

    assert lead.custom == {"crm": "hubspot", "seats": 40, "plan": {"tier": "pro"},
                           "interests": ["sso", "audit"], "website": "https://acme.com"}


def test_utm_and_ad_fields_go_to_the_source() -> None:
    flat = {"utm_source": "linkedin", "utm_medium": "paid_social", "utm_campaign": "q2",
            "utm_term": "lead routing", "utm_content": "carousel",
            "referrer": "https://www.linkedin.com/", "landing_page": "https://acme.com/demo",
            "form_id": "f1", "campaign_id": "c1", "ad_id": "a1"}

    lead = capture({"email": "x@acme.com", **flat}, provider="linkedin", channel="ad_platform")

    assert lead.source.model_dump() == {"channel": "ad_platform", "provider": "linkedin", **flat}
    assert lead.custom == {}


def test_source_given_by_the_sender_keeps_its_provider_and_channel() -> None:
    lead = capture({"email": "x@acme.com",
                    "source": {"provider": "webflow", "channel": "web_form"}})

    assert (lead.source.provider, lead.source.channel) == ("webflow", "web_form")


def test_received_at_is_utc() -> None:
    lead = capture({"email": "x@acme.com"},
                   now=datetime(2025, 3, 3, 14, 0, tzinfo=timezone(timedelta(hours=2))))

    assert lead.received_at == datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    assert lead.received_at.utcoffset() == timedelta(0)


# --- a direct channel ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("payload", "email", "phone"),
    [
        pytest.param({"email": "  ANA@ACME.COM "}, "ana@acme.com", None, id="email-only"),
        pytest.param({"email": "mailto:ana@acme.com"}, "ana@acme.com", None, id="mailto"),
        pytest.param({"phone": "+44 20 7946 0018"}, None, "+442079460018", id="phone-only"),
        pytest.param({"phone": "020 7946 0018", "country": "GB"}, None, "+442079460018",
                     id="national-number-with-country"),
        pytest.param({"phone": "(415) 555-0123", "company": {"country": "USA"}}, None,
                     "+14155550123", id="national-number-with-company-country"),
        pytest.param({"phone": "+1 202 555 0100"}, None, "+12025550100",
                     id="possible-though-not-assigned"),
    ],
)
def test_a_lead_with_an_email_or_a_phone_is_accepted(
    payload: dict[str, Any], email: str | None, phone: str | None
) -> None:
    lead = capture(payload)

    assert (lead.contact.email, lead.contact.phone) == (email, phone)


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        pytest.param({"first_name": "Ana", "company": "Acme"}, "contact",
                     "a lead needs an email or a phone", id="no-channel"),
        pytest.param({"email": "  ", "phone": ""}, "contact",
                     "a lead needs an email or a phone", id="blank-channels"),
        pytest.param({"email": "ana@acme"}, "contact.email", None, id="email-without-tld"),
        pytest.param({"email": "ana.acme.com"}, "contact.email", None, id="email-without-at"),
        pytest.param({"contact": {"email": "ana@@acme.com"}}, "contact.email", None,
                     id="nested-invalid-email"),
        pytest.param({"email": "ana@acme.com", "phone": "+44 20"}, "contact.phone",
                     "not a possible phone number (add +country code or country)",
                     id="too-short"),
        pytest.param({"phone": "020 7946 0018"}, "contact.phone",
                     "not a possible phone number (add +country code or country)",
                     id="national-number-without-country"),
        pytest.param({"phone": "555", "country": "US"}, "contact.phone",
                     "not a possible phone number for country US", id="impossible-in-country"),
        pytest.param({"email": "x@acme.com", "country": "Atlantis"}, "country",
                     "unknown country 'Atlantis'", id="unknown-country"),
        pytest.param({"email": "x@acme.com", "company": {"country": "Narnia"}}, "country",
                     "unknown country 'Narnia'", id="unknown-company-country"),
        pytest.param({"email": ["x@acme.com"]}, "contact.email", "must be a string",
                     id="email-not-a-string"),
        pytest.param({"email": True}, "contact.email", "must be a string", id="email-boolean"),
        pytest.param({"email": "x@acme.com", "contact": "x@acme.com"}, "contact",
                     "must be an object", id="section-not-an-object"),
        pytest.param({"email": "x@acme.com", "company": ["Acme"]}, "company",
                     "must be a string", id="company-neither-name-nor-object"),
        pytest.param({"email": "x@acme.com", "consent": {"basis": "because"}},
                     "consent.basis", None, id="bad-consent-basis"),
        pytest.param({"email": "x@acme.com", "activities": [{"type": "demo_request"}]},
                     "activities.0.at", "Field required", id="activity-without-time"),
        pytest.param({"email": "x@acme.com", "ad_id": True}, "source.ad_id",
                     "must be a string", id="ad-id-boolean"),
        pytest.param({"email": "x@acme.com", "source": {"form_id": {"id": 1}}},
                     "source.form_id", "must be a string", id="form-id-an-object"),
        pytest.param({"email": "x@acme.com", "crm_id": 2**64}, "body",
                     "an integer is beyond the 64-bit range; send such numbers as strings",
                     id="integer-beyond-64-bits"),
        pytest.param({"email": "x@acme.com", "custom": {"debt": -(2**63) - 1}}, "body",
                     "an integer is beyond the 64-bit range; send such numbers as strings",
                     id="negative-integer-beyond-64-bits"),
    ],
)
def test_invalid_lead_names_the_field_and_why(
    payload: dict[str, Any], field: str, reason: str | None
) -> None:
    bad = refusal(payload)

    assert bad.field == field
    assert bad.reason
    if reason is not None:
        assert bad.reason == reason
    assert str(bad) == f"{field}: {bad.reason}"
    assert replies.invalid(bad.field, bad.reason).body == {
        "error": "invalid lead", "errors": [{"field": field, "reason": bad.reason}]}


@pytest.mark.parametrize("body", [None, [], ["email", "x@acme.com"], "x@acme.com", 42, True])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    bad = refusal(body)

    assert (bad.field, bad.reason) == ("body", "must be a JSON object")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "x@acme.com", "first_name": "A" * (MAX_FIELD_CHARS + 1)}, "contact.first_name"),
        ({"email": "x@acme.com", "contact": {"last_name": "B" * (MAX_FIELD_CHARS + 1)}},
         "contact.last_name"),
        ({"email": "x@acme.com", "full_name": "C " * MAX_FIELD_CHARS}, "full_name"),
        ({"email": "x@acme.com", "company": "D" * (MAX_FIELD_CHARS + 1)}, "company"),
        ({"email": "x@acme.com", "website": "e" * (MAX_FIELD_CHARS + 1)}, "website"),
        ({"email": "x@acme.com", "country": "F" * (MAX_FIELD_CHARS + 1)}, "country"),
        ({"email": "x" * (MAX_FIELD_CHARS + 1) + "@acme.com"}, "contact.email"),
        ({"email": "x@acme.com", "job_title": "G" * (MAX_FIELD_CHARS + 1)}, "job_title"),
        ({"email": "x@acme.com", "title": {"raw": "H" * (MAX_FIELD_CHARS + 1)}}, "title.raw"),
        ({"email": "x@acme.com", "title": {"department": "I" * (MAX_FIELD_CHARS + 1)}},
         "title.department"),
        ({"email": "x@acme.com", "utm_term": "j" * (MAX_FIELD_CHARS + 1)}, "source.utm_term"),
        ({"email": "x@acme.com", "source": {"ad_id": "9" * (MAX_FIELD_CHARS + 1)}},
         "source.ad_id"),
    ],
)
def test_over_long_fields_are_refused_by_name(payload: dict[str, Any], field: str) -> None:
    bad = refusal(payload)

    assert (bad.field, bad.reason) == (field, f"longer than {MAX_FIELD_CHARS} characters")


def test_a_field_of_exactly_the_limit_is_accepted() -> None:
    lead = capture({"email": "x@acme.com", "first_name": "A" * MAX_FIELD_CHARS})

    assert lead.contact.first_name == "A" * MAX_FIELD_CHARS


@pytest.mark.parametrize(
    "number",
    [2**53 + 1, 120208212345678901, 2**63 - 1, 18446744073709551615],
    ids=["2^53+1", "facebook-style", "int64-max", "uint64-max"],
)
def test_huge_numeric_custom_ids_stay_exact(number: int) -> None:
    lead = capture({"email": "x@acme.com", "crm_id": number, "custom": {"erp_id": number}})

    dumped = lead.model_dump(mode="json")
    assert dumped["custom"] == {"crm_id": number, "erp_id": number}
    assert type(dumped["custom"]["crm_id"]) is int


@pytest.mark.parametrize("where", ["flat", "nested"])
def test_numeric_ad_ids_are_kept_exactly_as_their_digits(where: str) -> None:
    ids = {"ad_id": 120208212345678901, "campaign_id": 120208212345678000, "form_id": 987654}
    payload = {"email": "x@acme.com", **ids} if where == "flat" else {
        "email": "x@acme.com", "source": ids}

    lead = capture(payload, provider="facebook", channel="ad_platform")

    assert (lead.source.ad_id, lead.source.campaign_id, lead.source.form_id) == (
        "120208212345678901", "120208212345678000", "987654")


def test_job_title_is_trimmed_like_every_text_field() -> None:
    assert capture({"email": "x@acme.com", "job_title": "  VP of Sales "}).title.raw == (
        "VP of Sales")
    assert capture({"email": "x@acme.com", "title": {"raw": " CTO "}}).title.raw == "CTO"


def test_a_number_too_large_to_carry_is_a_422_not_a_crash() -> None:
    with pytest.raises(InvalidLeadError):
        capture({"email": "x@acme.com", "crm_id": 2**64})


def test_a_number_too_large_to_carry_is_refused_even_with_an_idempotency_key() -> None:
    with pytest.raises(InvalidLeadError) as caught:
        capture({"email": "x@acme.com", "custom": {"crm_id": 2**64}}, sender_id="key-1")

    assert caught.value.field == "body"


# --- submitted_at ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "when",
    ["2025-03-03T12:00:00Z", "2025-03-03T13:00:00+01:00", "2025-03-03T06:30:00.250-05:30",
     "2025-03-03t12:00:00z"],
)
def test_submitted_at_with_an_offset_is_kept_as_sent(when: str) -> None:
    lead = capture({"email": "x@acme.com", "submitted_at": when})

    assert lead.custom == {"submitted_at": when}


@pytest.mark.parametrize(
    "when",
    ["2025-03-03T12:00:00", "2025-03-03", "yesterday", "2025-02-30T12:00:00Z",
     "2025-03-03 12:00:00Z", "2025-03-03T12:00:00+0100", 1741003200, True, ""],
)
def test_submitted_at_that_is_not_rfc3339_with_an_offset_is_refused(when: Any) -> None:
    bad = refusal({"email": "x@acme.com", "submitted_at": when})

    assert (bad.field, bad.reason) == (
        "submitted_at", "must be an RFC 3339 date-time with an offset")


def test_submitted_at_null_is_no_submitted_at() -> None:
    assert capture({"email": "x@acme.com", "submitted_at": None}).custom == {}


# --- lead id and person key ------------------------------------------------------------

def test_same_idempotency_key_gives_the_same_lead_id_whatever_the_content() -> None:
    first = capture({"email": "x@acme.com"}, sender_id="key-123")
    retry = capture({"email": "x@acme.com", "first_name": "Ana"}, sender_id="key-123",
                    now=NOW + timedelta(minutes=5))

    assert first.lead_id == retry.lead_id
    assert uuid.UUID(first.lead_id).version == 5


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(("api", "key-1"), ("api", "key-2"), id="another-key"),
        pytest.param(("api", "key-1"), ("typeform", "key-1"), id="same-key-another-provider"),
        pytest.param(("api", None), ("api", "key-1"), id="key-versus-content"),
    ],
)
def test_lead_id_depends_on_provider_and_sender_id(
    a: tuple[str, str | None], b: tuple[str, str | None]
) -> None:
    payload = {"email": "x@acme.com"}

    assert derive_lead_id(a[0], a[1], payload) != derive_lead_id(b[0], b[1], payload)


def test_same_content_without_a_key_gives_the_same_lead_id_in_any_key_order() -> None:
    one = {"email": "x@acme.com", "form_id": "f", "submitted_at": "2025-03-03T12:00:00Z",
           "custom": {"a": 1, "b": 2}}
    other = {"custom": {"b": 2, "a": 1}, "submitted_at": "2025-03-03T12:00:00Z",
             "form_id": "f", "email": "x@acme.com"}

    assert capture(one).lead_id == capture(other, now=NOW + timedelta(hours=1)).lead_id


@pytest.mark.parametrize(
    "change",
    [{"email": "y@acme.com"}, {"submitted_at": "2025-03-03T12:00:01Z"}, {"form_id": "g"},
     {"first_name": "Ana"}],
)
def test_different_content_gives_a_different_lead_id(change: dict[str, Any]) -> None:
    base = {"email": "x@acme.com", "form_id": "f", "submitted_at": "2025-03-03T12:00:00Z"}

    assert capture(base).lead_id != capture({**base, **change}).lead_id


def test_derived_lead_id_is_a_stable_uuid5() -> None:
    assert derive_lead_id("api", "key-123", {}) == derive_lead_id("api", "key-123", {"x": 1})
    assert uuid.UUID(derive_lead_id("api", None, {"email": "x@acme.com"})).version == 5


@pytest.mark.parametrize(
    ("payload", "identity"),
    [
        pytest.param({"email": "Ana.Diaz@ACME.com"}, "ana.diaz@acme.com", id="email"),
        pytest.param({"email": " ana.diaz@acme.com ", "phone": "+14155550123"},
                     "ana.diaz@acme.com", id="email-before-phone"),
        pytest.param({"phone": "+1 (415) 555-0123"}, "+14155550123", id="phone-in-e164"),
    ],
)
def test_person_key_is_the_sha256_hex_of_the_normalized_identity(
    payload: dict[str, Any], identity: str
) -> None:
    lead = capture({"first_name": "Ana", "last_name": "Diaz", **payload})

    assert lead.person_key == hashlib.sha256(identity.encode()).hexdigest()


def test_same_person_in_different_case_gets_the_same_person_key() -> None:
    assert (capture({"email": "ANA@acme.com"}).person_key
            == capture({"email": "ana@Acme.COM", "first_name": "Ana"}).person_key)


def test_invalid_lead_is_leadflow_invalid_input_and_an_ordinary_exception() -> None:
    bad = InvalidLeadError("contact.email", "not a valid email")
    bad.add_note("seen in a test")

    assert (bad.field, bad.reason, bad.args) == (
        "contact.email", "not a valid email", ("contact.email", "not a valid email"))
    assert isinstance(bad, InvalidInputError) and isinstance(bad, PermanentError)
    assert str(bad) == "contact.email: not a valid email"
