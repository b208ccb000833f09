"""HubSpot workflow webhooks: a workflow's "Send a webhook" action (PROVIDERS.md section 5).

Signed v3: `X-HubSpot-Signature-v3` is base64 HMAC-SHA256 of method + the public URI +
raw body + `X-HubSpot-Request-Timestamp` (ms, at most 5 minutes old). The body is the
legacy contact profile; the contact id and its latest form conversion name the lead.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from services.capture.mapping import Submission
from services.capture.providers.common import (
    WEB_FORM,
    BadDeliveryError,
    Parsed,
    Provider,
    Webhook,
    list_at,
    load_json,
    object_at,
    parse_time,
    text_id,
    utm_from_url,
)
from services.capture.providers.signing import (
    BadSignatureError,
    check_fresh,
    digests_match,
    hmac_sha256,
    required_header,
)
from shared.settings import Settings

NAME = "hubspot"
_KEEP = ("hs_analytics_source", "hs_analytics_source_data_1", "hs_analytics_source_data_2",
         "hs_lead_status", "lifecyclestage")
# The characters HubSpot decodes in the request URI before it signs it (its
# "Validating requests" page, v3): the URI is signed with these unescaped.
_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C",
            "%3B")


def signed_uri(uri: str) -> str:
    """The request URI as HubSpot signs it."""
    for escaped in _DECODED:
        uri = uri.replace(escaped, unquote(escaped)).replace(escaped.lower(), unquote(escaped))
    return uri


def verify_signature(headers: Mapping[str, str], body: bytes, client_secret: str, *,
                     method: str, uri: str, now: datetime, max_age_s: int) -> None:
    """v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256(client secret, method + URI +
    raw body + `X-HubSpot-Request-Timestamp`), the timestamp in ms and at most 5 min old."""
    given = required_header(headers, "x-hubspot-signature-v3")
    timestamp = required_header(headers, "x-hubspot-request-timestamp")
    check_fresh(timestamp, "x-hubspot-request-timestamp", now, max_age_s)
    message = method.upper().encode() + signed_uri(uri).encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac_sha256(client_secret, message)).decode()
    if not digests_match(given, expected):
        raise BadSignatureError("x-hubspot-signature-v3 does not match the request")


def verify(hook: Webhook, settings: Settings) -> None:
    verify_signature(hook.headers, hook.body, settings.hubspot_client_secret, method="POST",
                     uri=hook.uri, now=hook.now, max_age_s=settings.signature_max_age_s)


def parse(body: bytes) -> Parsed:
    """A workflow's contact (legacy contact profile), or Webhooks API events."""
    doc = load_json(body)
    if isinstance(doc, list):  # Webhooks API subscriptions: events with ids only
        raise BadDeliveryError("body", "Webhooks API events carry no lead data; send "
                               "contacts from a workflow's Send a webhook action")
    doc = object_at(doc, "body")
    props = doc.get("properties")
    if not isinstance(props, dict):
        raise BadDeliveryError("properties", "must be an object of contact properties")
    answers: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, prop in props.items():
        value = prop.get("value") if isinstance(prop, dict) else prop
        if name.startswith("hs_") or name in ("lastmodifieddate", "createdate"):
            if name in _KEEP and value not in (None, ""):
                extra[name] = value
            continue
        answers[name] = value
    vid = text_id(doc.get("vid", doc.get("canonical-vid", doc.get("objectId"))), "vid",
                  required=False)
    submissions = [s for s in list_at(doc.get("form-submissions"), "form-submissions",
                                      required=False) if isinstance(s, dict)]
    latest = max(submissions, key=lambda s: s.get("timestamp") or 0, default=None)
    source: dict[str, str] = {}
    submitted = None
    sender_id = None
    if latest is not None:
        conversion = text_id(latest.get("conversion-id"), "form-submissions[].conversion-id",
                             required=False)
        if vid and conversion:
            sender_id = f"{vid}:{conversion}"
        if latest.get("form-id"):
            source["form_id"] = str(latest["form-id"])
        page = latest.get("page-url")
        if isinstance(page, str) and page:
            source["landing_page"] = page
            source.update(utm_from_url(page))
        submitted = parse_time(latest.get("timestamp"))
    elif doc.get("eventId") is not None:
        sender_id = f"event:{doc['eventId']}"
    first_url = props.get("hs_analytics_first_url")
    if isinstance(first_url, dict):
        for k, v in utm_from_url(first_url.get("value")).items():
            source.setdefault(k, v)
    if vid:
        extra["hubspot_contact_id"] = vid
    sub = Submission(provider=NAME, channel=WEB_FORM, where="", sender_id=sender_id,
                     answers=answers, source=source, extra=extra, submitted_at=submitted,
                     form_key=source.get("form_id"))
    return Parsed([sub])


PROVIDER = Provider(NAME, WEB_FORM, ("hubspot_client_secret",),
                    verify=verify, parse=lambda hook: parse(hook.body))
