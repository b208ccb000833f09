"""Every lead source over HTTP on the real broker and database, from the providers'
documented sample payloads (tests/fixtures/providers/SOURCES.md), with signatures computed
here as each provider computes them, and the Graph and LinkedIn APIs faked by a local
server reached through capture's URL settings."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from prometheus_client import REGISTRY

from services.capture.adapters.leadapis import LeadApis
from services.capture.intake import derive_lead_id
from services.capture.main import build as build_capture
from services.capture.store import Receipt, ReceiptStore
from shared import topics
from shared.service import Parts, Runtime, make_app
from shared.settings import Settings
from tests.kafka_tools import read_topic, values
from tests.provider_kit import (
    SECRETS,
    FakeLeadApis,
    facebook_headers,
    fixture,
    fixture_json,
    hubspot_headers,
    linkedin_headers,
    serve_fake,
    typeform_headers,
    webflow_headers,
)

BASE = "http://capture.test"


@dataclass
class Stack:
    client: httpx.AsyncClient
    rt: Runtime
    fake: FakeLeadApis
    settings: Settings
    parts: Parts

    def receipts(self) -> ReceiptStore:
        return ReceiptStore(self.rt.engine)

    async def webflow(self, body: bytes) -> httpx.Response:
        """A Webflow delivery of `body`, signed now."""
        return await self.client.post("/v1/webhooks/webflow", content=body,
                                      headers=webflow_headers(body, int(time.time() * 1000)))

    async def captured(self, expect: int, settle: float = 0.5) -> list[dict[str, Any]]:
        records = await read_topic(self.settings, topics.CAPTURED, expect=expect, settle=settle)
        return [v["data"] for v in values(records)]


@asynccontextmanager
async def stack(settings: Settings, **overrides: Any) -> AsyncIterator[Stack]:
    fake = FakeLeadApis()
    async with serve_fake(fake):
        own = settings.model_copy(update={
            **SECRETS, "facebook_graph_url": f"{fake.url}/v25.0",
            "linkedin_api_url": fake.url, "provider_timeout_s": 1.0, "provider_retries": 1,
            **overrides})
        rt = await Runtime.start("capture", own)
        parts = build_capture(rt, LeadApis(own))
        app = make_app("capture", rt, parts)
        asgi = parts.wrap(app) if parts.wrap else app
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi),
                                         base_url=BASE) as client:
                yield Stack(client, rt, fake, own, parts)
        finally:
            await rt.close()


def counted(provider: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("leadflow_leads_received_total",
                                     {"provider": provider, "outcome": outcome}) or 0.0


def unique(n: int = 1) -> list[int]:
    """Fresh provider ids: the database (and its receipts) outlives each test's topics."""
    base = int(uuid.uuid4().int % 10**15) * 1000
    return [base + i for i in range(n)]


def facebook_body(name: str = "facebook_leadgen_webhook.json") -> tuple[dict[str, Any], list[str]]:
    """A documented notification with fresh leadgen ids, and those ids."""
    doc = fixture_json(name)
    changes = [c for e in doc["entry"] for c in e["changes"]]
    for change, fresh in zip(changes, unique(len(changes)), strict=True):
        change["value"]["leadgen_id"] = fresh
    return doc, [str(c["value"]["leadgen_id"]) for c in changes]


def webflow_body() -> tuple[bytes, str]:
    doc = fixture_json("webflow_form_submission.json")
    doc["payload"]["id"] = f"6321ca84df3949bf{unique()[0]}"
    return json.dumps(doc).encode(), doc["payload"]["id"]


def graph_lead(leadgen_id: str, **fields: str) -> dict[str, Any]:
    lead = fixture_json("facebook_graph_lead_combined.json")
    lead["id"] = leadgen_id
    if fields:
        lead["field_data"] = [{"name": k, "values": [v]} for k, v in fields.items()]
    return lead


# --- Meta -------------------------------------------------------------------------------

async def test_facebook_handshake_echoes_the_challenge_only_for_our_verify_token(
        settings: Settings) -> None:
    async with stack(settings) as s:
        ok = await s.client.get("/v1/webhooks/facebook", params={
            "hub.mode": "subscribe", "hub.verify_token": "fb-verify-token",
            "hub.challenge": "1158201444"})
        wrong = await s.client.get("/v1/webhooks/facebook", params={
            "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
        assert ok.status_code == 200 and ok.text == "1158201444"
        assert ok.headers["content-type"].startswith("text/plain")
        assert wrong.status_code == 403


async def test_facebook_notification_fetches_each_lead_and_a_redelivery_fetches_nothing(
        settings: Settings) -> None:
    async with stack(settings) as s:
        doc, (one, two) = facebook_body()  # one entry, two changes, numeric ids
        body = json.dumps(doc).encode()
        s.fake.graph_leads = {one: graph_lead(one),
                              two: graph_lead(two, email="ana@acme.io", full_name="Ana Núñez")}
        first = await s.client.post("/v1/webhooks/facebook", content=body,
                                    headers=facebook_headers(body))
        assert first.status_code == 200, first.text
        assert first.json()["accepted"] == 2
        assert all(a.startswith("Bearer ") for a in s.fake.auth)  # token not in the URL
        calls = len(s.fake.calls)
        again = await s.client.post("/v1/webhooks/facebook", content=body,
                                    headers=facebook_headers(body))
        assert again.status_code == 200 and again.json()["duplicate"] == 2
        assert len(s.fake.calls) == calls  # no second fetch for published leads
        leads = {d["contact"]["email"]: d for d in await s.captured(expect=2)}
        assert len(leads) == 2
        joe = leads["joe@example.com"]
        assert joe["source"] == {"channel": "ad_platform", "provider": "facebook",
                                 "form_id": "12312312312", "ad_id": "12312312312",
                                 **dict.fromkeys(("campaign_id", "utm_source", "utm_medium",
                                                  "utm_campaign", "utm_term", "utm_content",
                                                  "referrer", "landing_page"))}
        assert joe["custom"]["car_make"] == "Honda"
        assert joe["consent"]["marketing"] is True
        assert [i["key"] for i in joe["consent"]["items"] if i["checked"]] == ["optional_1"]
        assert leads["ana@acme.io"]["contact"]["last_name"] == "Núñez"
        assert joe["lead_id"] == derive_lead_id("facebook", one, {})


async def test_facebook_batched_delivery_with_escaped_unicode_and_huge_ids(
        settings: Settings) -> None:
    async with stack(settings) as s:
        doc, ids = facebook_body("facebook_leadgen_webhook_batched.json")
        big = 9_007_199_254_740_993_123  # beyond 2^53 (and 2^64): must stay exact
        doc["entry"][0]["changes"][0]["value"]["ad_id"] = big
        for i, leadgen_id in enumerate(ids):
            s.fake.graph_leads[leadgen_id] = graph_lead(
                leadgen_id, email=f"lead{i}@example.org", full_name="Zoë Ångström")
        del s.fake.graph_leads[ids[0]]["ad_id"]  # the notification's ad id is the one kept
        # Meta signs the body with non-ASCII escaped (\u00eb); hashing those exact bytes works.
        body = json.dumps(doc, ensure_ascii=True).encode()
        reply = await s.client.post("/v1/webhooks/facebook", content=body,
                                    headers=facebook_headers(body))
        assert reply.status_code == 200, reply.text
        assert reply.json()["accepted"] == len(ids) == 5
        leads = await s.captured(expect=5)
        assert {d["contact"]["last_name"] for d in leads} == {"Ångström"}
        first = next(d for d in leads if d["contact"]["email"] == "lead0@example.org")
        assert first["source"]["ad_id"] == str(big)


async def test_facebook_graph_failure_answers_503_and_the_retry_completes(
        settings: Settings) -> None:
    async with stack(settings) as s:
        doc, (one, two) = facebook_body()
        body = json.dumps(doc).encode()
        s.fake.graph_leads = {one: graph_lead(one), two: graph_lead(two, email="b@x.org")}
        s.fake.mode = "fail"
        down = await s.client.post("/v1/webhooks/facebook", content=body,
                                   headers=facebook_headers(body))
        assert down.status_code == 503 and down.headers["retry-after"]
        s.fake.mode = "garbage"
        garbage = await s.client.post("/v1/webhooks/facebook", content=body,
                                      headers=facebook_headers(body))
        assert garbage.status_code == 503
        s.fake.mode = "slow"  # slower than provider_timeout_s
        slow = await s.client.post("/v1/webhooks/facebook", content=body,
                                   headers=facebook_headers(body))
        assert slow.status_code == 503
        s.fake.mode = "ok"
        ok = await s.client.post("/v1/webhooks/facebook", content=body,
                                 headers=facebook_headers(body))
        assert ok.status_code == 200 and ok.json()["accepted"] == 2
        assert len(await s.captured(expect=2, settle=1.0)) == 2  # nothing half-accepted


async def test_facebook_lead_the_graph_does_not_know_is_422_naming_it(
        settings: Settings) -> None:
    async with stack(settings) as s:
        doc, (one, _) = facebook_body()
        body = json.dumps(doc).encode()
        s.fake.graph_leads = {one: graph_lead(one)}
        reply = await s.client.post("/v1/webhooks/facebook", content=body,
                                    headers=facebook_headers(body))
        assert reply.status_code == 422
        assert reply.json()["errors"][0]["field"] == "entry[0].changes[1]"
        assert reply.json()["accepted"] == 1  # the good one is accepted all the same


async def test_facebook_wrong_signature_is_401(settings: Settings) -> None:
    async with stack(settings) as s:
        body = fixture("facebook_leadgen_webhook.json")
        before = counted("facebook", "unauthorized")
        for headers in (facebook_headers(body, "not-the-secret"),
                        {"content-type": "application/json"},
                        facebook_headers(body + b" ")):
            reply = await s.client.post("/v1/webhooks/facebook", content=body, headers=headers)
            assert reply.status_code == 401
            assert "x-hub-signature-256" in reply.json()["errors"][0]["reason"]
        assert counted("facebook", "unauthorized") == before + 3
        assert s.fake.calls == []


# --- Google Ads -------------------------------------------------------------------------

async def test_google_ads_sample_is_accepted_with_an_empty_object_and_test_flag(
        settings: Settings) -> None:
    async with stack(settings) as s:
        body = fixture("google_ads_lead_test.json")  # Google's test sample: "Google_key"
        accepted, duplicate = counted("google_ads", "accepted"), counted("google_ads",
                                                                         "duplicate")
        reply = await s.client.post("/v1/webhooks/google_ads", content=body,
                                    headers={"content-type": "application/json"})
        assert reply.status_code == 200 and reply.json() == {}
        again = await s.client.post("/v1/webhooks/google_ads", content=body,
                                    headers={"content-type": "application/json"})
        assert again.status_code == 200 and again.json() == {}
        assert counted("google_ads", "accepted") == accepted + 1
        assert counted("google_ads", "duplicate") == duplicate + 1
        [lead] = await s.captured(expect=1, settle=1.0)
        assert lead["flags"]["test"] is True
        assert lead["contact"]["phone"] == "+11234567890"
        assert lead["contact"]["first_name"] == "John"
        assert lead["source"]["campaign_id"] == "123456"
        assert lead["custom"]["gclid"].startswith("Cj0KCQ")


async def test_google_ads_ids_beyond_2_53_stay_exact_and_a_wrong_key_is_401(
        settings: Settings) -> None:
    async with stack(settings) as s:
        doc = fixture_json("google_ads_lead_production.json")
        doc["google_key"] = SECRETS["google_ads_key"]
        doc["lead_id"] = f"{doc['lead_id']}-{unique()[0]}"  # Google's two samples share one
        body = (json.dumps(doc)[:-1] + ', "form_id": 9223372036854775807, '
                '"campaign_id": 18446744073709551617}').encode()
        reply = await s.client.post("/v1/webhooks/google_ads", content=body,
                                    headers={"content-type": "application/json"})
        assert reply.status_code == 200, reply.text
        [lead] = await s.captured(expect=1)
        assert lead["source"]["form_id"] == "9223372036854775807"
        assert lead["source"]["campaign_id"] == "18446744073709551617"
        doc["google_key"] = "wrong"
        bad = await s.client.post("/v1/webhooks/google_ads", json=doc)
        assert bad.status_code == 401


# --- LinkedIn ---------------------------------------------------------------------------

async def test_linkedin_challenge_and_a_lead_fetched_and_mapped_through_its_form(
        settings: Settings) -> None:
    async with stack(settings) as s:
        challenge = await s.client.get("/v1/webhooks/linkedin",
                                       params={"challengeCode": "890e4d4c-8ea0-4a5e"})
        assert challenge.status_code == 200
        assert challenge.json() == {
            "challengeCode": "890e4d4c-8ea0-4a5e",
            "challengeResponse": hmac.new(b"li-client-secret", b"890e4d4c-8ea0-4a5e",
                                          hashlib.sha256).hexdigest()}
        response = fixture_json("linkedin_lead_form_response.json")
        s.fake.linkedin_responses = {response["id"]: response}
        s.fake.linkedin_forms = {"7234246": fixture_json("linkedin_lead_form.json")}
        body = fixture("linkedin_lead_notification.json")
        reply = await s.client.post("/v1/webhooks/linkedin", content=body,
                                    headers=linkedin_headers(body))
        assert reply.status_code == 200, reply.text
        assert reply.json()["accepted"] == 1
        [lead] = await s.captured(expect=1)
        assert lead["contact"]["email"] == "kevjohonson@email.com"
        assert (lead["contact"]["first_name"], lead["contact"]["last_name"]) == ("Kevin",
                                                                                 "Johonson")
        assert lead["title"]["raw"] == "Senior Engineer"
        assert lead["flags"]["test"] is True
        assert lead["consent"]["marketing"] is True
        assert lead["source"]["campaign_id"] == "198356826"
        assert lead["custom"]["JOB_FUNCTION"] == "Ingeniería"
        deleted = json.loads(body)
        deleted["leadAction"] = "DELETED"
        dbody = json.dumps(deleted).encode()
        gone = await s.client.post("/v1/webhooks/linkedin", content=dbody,
                                   headers=linkedin_headers(dbody))
        assert gone.status_code == 200 and gone.json()["ignored"] == 1
        wrong = await s.client.post("/v1/webhooks/linkedin", content=body,
                                    headers=linkedin_headers(body, "nope"))
        assert wrong.status_code == 401


# --- Typeform, HubSpot, Webflow, Unbounce ----------------------------------------------

async def test_typeform_answers_map_by_ref_with_hidden_fields_and_consent(
        settings: Settings) -> None:
    async with stack(settings) as s:
        doc = fixture_json("typeform_form_response.json")
        doc["form_response"]["hidden"] = {"utm_source": "newsletter", "utm_campaign": "spring",
                                          "user_id": "abc123456"}
        body = json.dumps(doc, ensure_ascii=False).encode()
        reply = await s.client.post("/v1/webhooks/typeform", content=body,
                                    headers=typeform_headers(body))
        assert reply.status_code == 200, reply.text
        [lead] = await s.captured(expect=1)
        assert lead["contact"]["email"] == "laura@example.com"
        assert lead["contact"]["first_name"] == "Laura"  # the demo org maps this form's ref
        assert lead["source"]["utm_source"] == "newsletter"
        assert lead["source"]["utm_campaign"] == "spring"
        assert lead["consent"]["marketing"] is True
        assert lead["consent"]["text"].startswith("By submitting this form")
        assert lead["custom"]["user_id"] == "abc123456"
        partial = {**doc, "event_type": "form_response_partial"}
        pbody = json.dumps(partial).encode()
        ignored = await s.client.post("/v1/webhooks/typeform", content=pbody,
                                      headers=typeform_headers(pbody))
        assert ignored.status_code == 200 and ignored.json()["ignored"] == 1
        bad = await s.client.post("/v1/webhooks/typeform", content=body,
                                  headers=typeform_headers(body, "other"))
        assert bad.status_code == 401


async def test_hubspot_v3_signature_over_the_public_url_with_a_timestamp_window(
        settings: Settings) -> None:
    async with stack(settings, public_url="https://leads.example.com") as s:
        body = fixture("hubspot_workflow_contact_legacy.json")
        uri = "https://leads.example.com/v1/webhooks/hubspot?portal=62515"
        now_ms = int(time.time() * 1000)
        reply = await s.client.post("/v1/webhooks/hubspot?portal=62515", content=body,
                                    headers=hubspot_headers(body, uri, now_ms))
        assert reply.status_code == 200, reply.text
        [lead] = await s.captured(expect=1)
        assert lead["contact"]["email"] == "perf_user_970@test.com"
        assert lead["source"]["form_id"] == "762987228e694ef19530f58da2db5f63"
        stale = await s.client.post("/v1/webhooks/hubspot?portal=62515", content=body,
                                    headers=hubspot_headers(body, uri, now_ms - 301_000))
        assert stale.status_code == 401 and "old" in stale.json()["errors"][0]["reason"]
        other_url = await s.client.post(
            "/v1/webhooks/hubspot?portal=62515", content=body,
            headers=hubspot_headers(body, "https://elsewhere.example/v1/webhooks/hubspot",
                                    now_ms))
        assert other_url.status_code == 401


async def test_webflow_answers_exactly_200_and_checks_timestamp_and_body(
        settings: Settings) -> None:
    async with stack(settings) as s:
        body, _ = webflow_body()
        now_ms = int(time.time() * 1000)
        reply = await s.client.post("/v1/webhooks/webflow", content=body,
                                    headers=webflow_headers(body, now_ms))
        assert reply.status_code == 200, reply.text
        [lead] = await s.captured(expect=1)
        assert lead["contact"]["email"] == "zaphod@heartofgold.ai"
        assert lead["contact"]["phone"] == "+15550000000"  # sent as a JSON number
        assert lead["custom"]["form_name"] == "Contact Us"
        again = await s.client.post("/v1/webhooks/webflow", content=body,
                                    headers=webflow_headers(body, now_ms))
        assert again.status_code == 200
        old = await s.client.post("/v1/webhooks/webflow", content=body,
                                  headers=webflow_headers(body, now_ms - 600_000))
        assert old.status_code == 401


async def test_unbounce_form_post_with_data_json_derives_its_lead_id_from_content(
        settings: Settings) -> None:
    async with stack(settings) as s:
        body = fixture("unbounce_form_submit.txt").strip()
        form = {"content-type": "application/x-www-form-urlencoded"}
        first = await s.client.post("/v1/webhooks/unbounce?token=ub-token", content=body,
                                    headers=form)
        again = await s.client.post("/v1/webhooks/unbounce?token=ub-token", content=body,
                                    headers=form)
        assert first.status_code == 200 and first.json()["accepted"] == 1
        assert again.status_code == 200 and again.json()["duplicate"] == 1
        [lead] = await s.captured(expect=1, settle=1.0)
        assert lead["contact"]["email"] == "test@test.com"
        assert lead["source"]["landing_page"] == "http://my-landing-page.ca/"
        assert lead["custom"]["submitted_at"] == "2023-06-06T22:57:00+00:00"
        wrong = await s.client.post("/v1/webhooks/unbounce?token=guess", content=body,
                                    headers=form)
        assert wrong.status_code == 401
        assert "ub-token" not in wrong.text


# --- every provider: the edges ------------------------------------------------------------

async def test_unset_secret_503_unknown_provider_404_wrong_type_415_too_large_413(
        settings: Settings) -> None:
    async with stack(settings, typeform_secret="", max_body_bytes=2048) as s:
        unset = await s.client.post("/v1/webhooks/typeform", json={})
        assert unset.status_code == 503
        assert "LEADFLOW_TYPEFORM_SECRET" in unset.json()["errors"][0]["reason"]
        assert (await s.client.post("/v1/webhooks/myspace", json={})).status_code == 404
        xml = await s.client.post("/v1/webhooks/webflow", content=b"<a/>",
                                  headers={"content-type": "application/xml"})
        assert xml.status_code == 415
        big = b'{"x": "' + b"a" * 4096 + b'"}'
        large = await s.client.post("/v1/webhooks/facebook", content=big,
                                    headers=facebook_headers(big))
        assert large.status_code == 413
        assert (await s.client.get("/v1/webhooks/webflow")).status_code == 405


async def test_a_crash_between_receipt_and_publish_is_published_on_the_retry(
        settings: Settings) -> None:
    async with stack(settings) as s:
        body, submission_id = webflow_body()
        lead_id = derive_lead_id("webflow", submission_id, {})
        # What a crash leaves behind: the receipt written, the event never published.
        await s.receipts().record(Receipt(lead_id, "webflow", None, "email:x",
                                             datetime.now(UTC)))
        reply = await s.webflow(body)
        assert reply.status_code == 200 and reply.json()["accepted"] == 1
        [lead] = await s.captured(expect=1)
        assert lead["lead_id"] == lead_id


async def test_receipts_keep_the_raw_body_so_a_lead_can_be_traced(settings: Settings) -> None:
    async with stack(settings) as s:
        body = fixture("unbounce_form_submit.txt").strip().replace(
            b"test%40test.com", f"t{unique()[0]}%40test.com".encode())
        reply = await s.client.post("/v1/webhooks/unbounce?token=ub-token", content=body,
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        await s.client.post("/v1/webhooks/unbounce?token=ub-token", content=body,
                            headers={"content-type": "application/x-www-form-urlencoded"})
        lead_id = reply.json()["results"][0]["lead_id"]
        trace = await s.receipts().trace(lead_id)
        assert trace is not None and trace["deliveries"] == 2
        assert [d["body"] for d in trace["delivery_list"]] == [body, body]
        assert trace["payload"]["source"]["provider"] == "unbounce"


# --- HTML forms and imports -------------------------------------------------------------

FORM = {"your-email": "mia@northwind.example", "full_name": "Mia Wong", "org": "Northwind",
        "newsletter": "on", "fax_number": ""}


async def test_a_browser_form_post_is_redirected_to_the_thank_you_page(
        settings: Settings) -> None:
    async with stack(settings) as s:
        reply = await s.client.post(
            "/v1/forms/contact-us", content=urlencode(FORM), headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "text/html,application/xhtml+xml", "origin": "https://www.example.com",
                "referer": "https://www.example.com/pricing?utm_source=google&utm_medium=cpc"})
        assert reply.status_code == 303
        assert reply.headers["location"] == "https://www.example.com/thanks"
        [lead] = await s.captured(expect=1)
        assert lead["contact"]["email"] == "mia@northwind.example"
        assert lead["company"]["name"] == "Northwind"
        assert lead["consent"]["marketing"] is True
        assert lead["consent"]["text"].startswith("Yes, send me product news")
        assert lead["source"]["utm_source"] == "google"
        assert lead["source"]["channel"] == "web_form"


async def test_a_script_gets_json_cors_and_a_multipart_post_works(settings: Settings) -> None:
    async with stack(settings) as s:
        origin = {"origin": "http://localhost:8080"}
        pre = await s.client.options("/v1/forms/contact-us", headers={
            **origin, "access-control-request-method": "POST"})
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "http://localhost:8080"
        reply = await s.client.post("/v1/forms/contact-us", files={"dummy": ("", b"")},
                                    data={**FORM, "your-email": "li@multi.example"},
                                    headers={**origin, "accept": "application/json"})
        assert reply.status_code == 202, reply.text
        assert reply.json()["status"] == "accepted"
        assert reply.headers["access-control-allow-origin"] == "http://localhost:8080"
        evil = await s.client.post("/v1/forms/contact-us", data=FORM, headers={
            "origin": "https://evil.example", "accept": "application/json"})
        assert evil.status_code == 403
        bad = await s.client.post("/v1/forms/contact-us", data={"full_name": "No Contact"},
                                  headers={"accept": "application/json"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "contact"
        page = await s.client.post("/v1/forms/contact-us", data={"your-email": "x@"},
                                   headers={"accept": "text/html"})
        assert page.status_code == 422 and "your-email" in page.text
        assert (await s.client.post("/v1/forms/nope", data=FORM)).status_code == 404
        assert (await s.client.post("/v1/forms/contact-us", json=FORM)).status_code == 415


async def test_a_bot_filling_the_honeypot_is_thanked_and_dropped(settings: Settings) -> None:
    async with stack(settings) as s:
        before = counted("form", "invalid")
        reply = await s.client.post("/v1/forms/contact-us",
                                    data={**FORM, "fax_number": "+1 555 0100"},
                                    headers={"accept": "text/html"})
        assert reply.status_code == 303
        assert counted("form", "invalid") == before + 1
        assert await s.captured(expect=0, settle=1.0) == []


CSV = ("E-Mail;Firma;Position;Land;Notes\n"
       "jan@kontor.example;Kontor GmbH;Einkaufsleiter;Deutschland;met at booth\n"
       "not-an-email;Nobody Ltd;;;\n"
       "sofia@vela.example;Vela SA;CTO;España;\n")


async def test_an_import_reports_failing_rows_by_number_and_accepts_the_rest(
        settings: Settings) -> None:
    async with stack(settings) as s:
        h = {"Authorization": f"Bearer {settings.api_key}", "content-type": "text/csv"}
        reply = await s.client.post("/v1/imports?source=badge-scans", content=CSV.encode(),
                                    headers=h)
        assert reply.status_code == 200, reply.text
        out = reply.json()
        assert (out["rows"], out["accepted"], out["invalid"]) == (3, 2, 1)
        assert out["errors"][0]["row"] == 3
        assert out["errors"][0]["field"] == "row 3.E-Mail"
        again = await s.client.post("/v1/imports?source=badge-scans", content=CSV.encode(),
                                    headers=h)
        assert again.json()["duplicate"] == 2  # the same file twice: no second lead
        leads = {d["contact"]["email"]: d for d in await s.captured(expect=2, settle=1.0)}
        jan = leads["jan@kontor.example"]
        assert jan["company"]["name"] == "Kontor GmbH" and jan["country"] == "DE"
        assert jan["source"]["channel"] == "event"
        assert jan["source"]["utm_campaign"] == "expo-2026"
        assert jan["custom"]["Notes"] == "met at booth"
        assert leads["sofia@vela.example"]["country"] == "ES"


async def test_an_import_takes_an_inline_mapping_and_refuses_what_it_cannot_read(
        settings: Settings) -> None:
    async with stack(settings) as s:
        auth = {"Authorization": f"Bearer {settings.api_key}"}
        csv = "Mail,Name,Co\nrui@porto.example,Rui Costa,Porto Lda\n".encode("cp1252")
        reply = await s.client.post("/v1/imports", params={
            "column.Mail": "email", "column.Co": "company", "channel": "event"},
            files={"file": ("attendees.csv", csv, "text/csv")}, headers=auth)
        assert reply.status_code == 200 and reply.json()["accepted"] == 1, reply.text
        assert (await s.client.post("/v1/imports", content=csv, headers={
            "content-type": "text/csv"})).status_code == 401
        wrong = await s.client.post("/v1/imports", params={"column.Mail": "emial"},
                                    content=csv, headers={**auth, "content-type": "text/csv"})
        assert wrong.status_code == 422 and "emial" in wrong.json()["errors"][0]["reason"]
        missing = await s.client.post("/v1/imports", params={"column.Email": "email"},
                                      content=csv, headers={**auth, "content-type": "text/csv"})
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "column.Email"
        unknown = await s.client.post("/v1/imports", params={"source": "nope"}, content=csv,
                                      headers={**auth, "content-type": "text/csv"})
        assert unknown.status_code == 404


async def test_an_accepted_lead_is_replayed_from_its_receipt_as_the_same_event(
        settings: Settings) -> None:
    from services.capture.replay import replay, trace

    async with stack(settings) as s:
        body, _ = webflow_body()
        reply = await s.webflow(body)
        lead_id = reply.json()["results"][0]["lead_id"]
        found = await trace(s.settings, lead_id)
        assert [bytes(d["body"]) for d in found["delivery_list"]] == [body]
        await replay(s.settings, lead_id)
        records = await read_topic(s.settings, topics.CAPTURED, expect=2, settle=0.5)
        first, again = values(records)
        assert first["id"] == again["id"] and first["data"] == again["data"]


async def test_what_review_found_stays_fixed(settings: Settings) -> None:
    """Inputs that once reached a 500, lost rows, or answered a sender wrongly."""
    async with stack(settings) as s:
        auth = {"Authorization": f"Bearer {settings.api_key}", "content-type": "text/csv"}
        # A timestamp of 400 digits: 401, not an overflow.
        body, _ = webflow_body()
        huge = await s.client.post("/v1/webhooks/hubspot", content=body, headers={
            "content-type": "application/json", "x-hubspot-signature-v3": "x",
            "x-hubspot-request-timestamp": "1" + "0" * 400})
        assert huge.status_code == 401
        # Undecodable and too many form fields: 422.
        for form_body in (b"your-email=%ff", b"&".join([b"a=1"] * 1001)):
            reply = await s.client.post("/v1/forms/contact-us", content=form_body, headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "application/json"})
            assert reply.status_code == 422, reply.text
        # An unreadable row in the middle: the rows around it still go through.
        csv = ("E-Mail,Firma\nmid1@rows.example,A\n\"" + "x" * 140_000 + "\"\n"
               "mid2@rows.example,B\nmid2@rows.example,B\n").encode()
        reply = await s.client.post("/v1/imports?source=badge-scans", content=csv,
                                    headers=auth)
        out = reply.json()
        assert reply.status_code == 200 and out["accepted"] == 2, out
        assert out["duplicate"] == 1  # the same row twice in one file: one lead
        assert out["errors"][0]["row"] == 3
        # A Webflow form that is no lead: 200 (anything else turns the webhook off).
        doc = fixture_json("webflow_form_submission.json")
        doc["payload"]["id"] = f"nolead-{unique()[0]}"
        doc["payload"]["data"] = {"Search": "pricing"}
        nolead = json.dumps(doc).encode()
        reply = await s.client.post("/v1/webhooks/webflow", content=nolead, headers=
                                    webflow_headers(nolead, int(time.time() * 1000)))
        assert reply.status_code == 200 and reply.json()["invalid"] == 1
        # A signed body of an unexpected shape, a control character in an id: 422.
        odd = json.dumps({"event_type": "form_response", "form_response": {
            "token": "t1", "definition": {"fields": 5}, "answers": []}}).encode()
        reply = await s.client.post("/v1/webhooks/typeform", content=odd,
                                    headers=typeform_headers(odd))
        assert reply.status_code == 422
        nul = fixture_json("google_ads_lead_test.json") | {"lead_id": "a\u0000b"}
        assert (await s.client.post("/v1/webhooks/google_ads", json=nul)).status_code == 422
        # Google's key is not kept in the stored body.
        doc = fixture_json("google_ads_lead_test.json") | {"lead_id": f"k-{unique()[0]}"}
        reply = await s.client.post("/v1/webhooks/google_ads", json=doc)
        lead_id = derive_lead_id("google_ads", doc["lead_id"], {})
        trace = await s.receipts().trace(lead_id)
        assert trace is not None
        assert SECRETS["google_ads_key"].encode() not in bytes(trace["delivery_list"][0]["body"])
        assert len(await s.captured(expect=3, settle=1.0)) == 3  # 2 rows, 1 Google, no Webflow


async def test_bodies_past_the_retention_are_dropped_and_receipts_stay(
        settings: Settings) -> None:
    async with stack(settings) as s:
        body, _ = webflow_body()
        reply = await s.webflow(body)
        lead_id = reply.json()["results"][0]["lead_id"]
        store = s.receipts()
        assert (await store.trace(lead_id))["delivery_list"]
        while await store.purge(datetime.now(UTC) + timedelta(seconds=1)):
            pass
        kept = await store.trace(lead_id)
        assert kept is not None and kept["payload"] is None and kept["delivery_list"] == []
        again = await s.webflow(body)
        assert again.status_code == 200 and again.json()["duplicate"] == 1


async def test_the_retention_task_drops_old_bodies_at_once_and_stops_when_asked(
        settings: Settings) -> None:
    async with stack(settings) as s:
        body, _ = webflow_body()
        reply = await s.webflow(body)
        lead_id = reply.json()["results"][0]["lead_id"]
        # A month on, the body is past the default retention (30d).
        s.rt.now = lambda: datetime.now(UTC) + timedelta(days=31)
        stop = asyncio.Event()
        (retention,) = s.parts.tasks
        task = asyncio.create_task(retention(stop))
        kept = await s.receipts().trace(lead_id)
        for _ in range(100):
            if kept is not None and kept["delivery_list"] == []:
                break
            await asyncio.sleep(0.05)
            kept = await s.receipts().trace(lead_id)
        stop.set()
        await asyncio.wait_for(task, 5)  # the hourly wait ends with the stop
        assert kept is not None and kept["payload"] is None and kept["delivery_list"] == []


async def test_two_replicas_purging_at_once_drop_each_body_once_and_keep_the_receipt(
        settings: Settings) -> None:
    from shared.db import create_engine

    async with stack(settings) as s:
        bodies = [webflow_body()[0] for _ in range(3)]
        lead_ids = [(await s.webflow(body)).json()["results"][0]["lead_id"] for body in bodies]
        other = create_engine(s.settings.database_url, pool_size=2)  # a second replica
        try:
            later = datetime.now(UTC) + timedelta(seconds=1)
            await asyncio.gather(s.receipts().purge(later, limit=2),
                                 ReceiptStore(other).purge(later, limit=2))
            while await s.receipts().purge(later):
                pass
        finally:
            await other.dispose()
        for lead_id in lead_ids:
            kept = await s.receipts().trace(lead_id)
            assert kept is not None and kept["published_at"] is not None
            assert kept["payload"] is None and kept["delivery_list"] == []
