"""Property: whatever bytes a sender sends to any capture endpoint, the answer is never a
5xx. Signatures are computed over the random bodies half the time, so the bytes reach the
parsers behind every check, not only the signature check in front of them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from shared.settings import Settings
from tests.integration.test_sources import stack
from tests.provider_kit import (
    facebook_headers,
    fixture,
    hubspot_headers,
    linkedin_headers,
    typeform_headers,
    webflow_headers,
)

SAMPLES = [fixture(n) for n in (
    "facebook_leadgen_webhook.json", "google_ads_lead_test.json",
    "linkedin_lead_notification.json", "typeform_form_response.json",
    "hubspot_workflow_contact_legacy.json", "webflow_form_submission.json",
    "unbounce_form_submit.txt")]
CTYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
          "multipart/form-data; boundary=xyz", "text/csv", "text/plain", "", "application/xml",
          "application/cloudevents+json", "text/csv; charset=utf-16"]
ENDPOINTS = ["/v1/leads", "/v1/leads/batch", "/v1/activities", "/v1/webhooks/facebook",
             "/v1/webhooks/google_ads", "/v1/webhooks/linkedin", "/v1/webhooks/typeform",
             "/v1/webhooks/hubspot", "/v1/webhooks/webflow", "/v1/webhooks/unbounce?token=ub-token",
             "/v1/webhooks/unknown", "/v1/forms/contact-us", "/v1/imports",
             "/v1/imports?source=badge-scans"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=20)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "shaped"]))
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    sample = bytearray(draw(st.sampled_from(SAMPLES)))
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(sample) - 1))
            sample[i] = draw(st.integers(0, 255))
        return bytes(sample)
    # "shaped": a documented sample with one value replaced by something odd
    doc = json.loads(SAMPLES[0]) if sample[:1] != b"{" else json.loads(bytes(sample))
    odd = draw(json_values)
    key = draw(st.sampled_from(sorted(doc)))
    doc[key] = odd
    return json.dumps(doc).encode()


def signed(path: str, body: bytes, ctype: str) -> dict[str, str]:
    now_ms = int(time.time() * 1000)
    provider = path.split("?")[0].rsplit("/", 1)[-1]
    headers = {"facebook": facebook_headers, "linkedin": linkedin_headers,
               "typeform": typeform_headers}.get(provider, lambda _body: {})(body)
    if provider == "hubspot":
        headers = hubspot_headers(body, f"http://capture.test{path}", now_ms)
    elif provider == "webflow":
        headers = webflow_headers(body, now_ms)
    return {**headers, "content-type": ctype}


async def test_random_bytes_to_every_endpoint_never_get_a_5xx(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    async with stack(settings, max_body_bytes=4096) as s:
        seen: dict[int, int] = {}

        def post(path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
            return asyncio.run_coroutine_threadsafe(
                s.client.post(path, content=body, headers=headers), loop).result(30)

        @hsettings(max_examples=600, deadline=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))
        @given(path=st.sampled_from(ENDPOINTS), body=bodies(),
               ctype=st.sampled_from(["proper"] * 8 + CTYPES), sign=st.booleans(),
               auth=st.booleans())
        def sends(path: str, body: bytes, ctype: str, sign: bool, auth: bool) -> None:
            if ctype == "proper":
                ctype = ("application/x-www-form-urlencoded" if "forms" in path or
                         "unbounce" in path else "text/csv" if "imports" in path
                         else "application/json")
            headers: dict[str, Any] = signed(path, body, ctype) if sign else {
                "content-type": ctype, "x-hub-signature-256": "sha256=00"}
            if auth:
                headers["authorization"] = f"Bearer {settings.api_key}"
            if not ctype:
                headers.pop("content-type", None)
            reply = post(path, body, headers)
            seen[reply.status_code] = seen.get(reply.status_code, 0) + 1
            assert reply.status_code < 500, (path, reply.status_code, reply.text[:300])

        @hsettings(max_examples=60, deadline=None, derandomize=True)
        @given(provider=st.sampled_from(["facebook", "linkedin", "typeform", "nope"]),
               query=st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token",
                                                      "hub.challenge", "challengeCode", "x"]),
                                     st.text(max_size=40), max_size=4))
        def handshakes(provider: str, query: dict[str, str]) -> None:
            reply = asyncio.run_coroutine_threadsafe(
                s.client.get(f"/v1/webhooks/{provider}", params=query), loop).result(30)
            assert reply.status_code < 500, (provider, query, reply.text[:300])

        await asyncio.to_thread(sends)
        await asyncio.to_thread(handshakes)
        # The property is only worth something if the bytes got past the front checks.
        print("statuses:", sorted(seen.items()))
        assert seen.get(422, 0) > 20 and seen.get(401, 0) > 20, seen
