"""Webflow `form_submission` webhooks (PROVIDERS.md section 6).

Signed with `x-webflow-signature`: hex HMAC-SHA256 of `x-webflow-timestamp` (ms, at most
5 minutes old) + ":" + the raw body. Webflow counts only 200 as success and turns a
webhook off after a few failures, and it sends every form of a site (a search box, a job
application): a submission that is no lead is answered 200 too, listed and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.capture.mapping import Submission
from services.capture.providers.common import (
    UTM_KEYS,
    WEB_FORM,
    Parsed,
    Provider,
    Webhook,
    list_at,
    load_json,
    object_at,
    parse_time,
    text_id,
)
from services.capture.providers.signing import (
    BadSignatureError,
    check_fresh,
    digests_match,
    hmac_sha256,
    required_header,
)
from shared.settings import Settings

NAME = "webflow"


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str, *,
                     now: datetime, max_age_s: int) -> None:
    """`x-webflow-signature` = hex HMAC-SHA256(secret, timestamp + ":" + raw body), with
    `x-webflow-timestamp` in ms and at most 5 minutes old."""
    given = required_header(headers, "x-webflow-signature")
    timestamp = required_header(headers, "x-webflow-timestamp")
    check_fresh(timestamp, "x-webflow-timestamp", now, max_age_s)
    expected = hmac_sha256(secret, timestamp.encode() + b":" + body).hex()
    if not digests_match(given.lower(), expected):
        raise BadSignatureError("x-webflow-signature does not match the body")


def verify(hook: Webhook, settings: Settings) -> None:
    verify_signature(hook.headers, hook.body, settings.webflow_secret, now=hook.now,
                     max_age_s=settings.signature_max_age_s)


def parse(body: bytes) -> Parsed:
    doc = object_at(load_json(body), "body")
    if doc.get("triggerType") not in (None, "form_submission"):
        return Parsed([], ignored=1)
    payload = object_at(doc.get("payload"), "payload")
    submission_id = text_id(payload.get("id"), "payload.id")
    data = object_at(payload.get("data", {}), "payload.data")
    hints = {}
    for item in list_at(payload.get("schema"), "payload.schema", required=False):
        if isinstance(item, dict) and isinstance(item.get("fieldName"), str):
            kind = str(item.get("fieldType", "")).lower()
            if "email" in kind:
                hints[item["fieldName"]] = "email"
            elif "phone" in kind or kind == "tel":
                hints[item["fieldName"]] = "phone"
    answers = {}
    source = {}
    for name, value in data.items():
        if name in UTM_KEYS and value:
            source[name] = str(value)
        else:
            # Values may be JSON numbers (a phone number, say): text from here on.
            answers[name] = str(value) if isinstance(value, int | float) and not isinstance(
                value, bool) else value
    form_id = text_id(payload.get("formId"), "payload.formId", required=False)
    if form_id:
        source["form_id"] = form_id
    extra: dict[str, Any] = {k: payload[k] for k in ("name", "siteId", "formElementId")
                             if isinstance(payload.get(k), str)}
    if "name" in extra:
        extra["form_name"] = extra.pop("name")
    sub = Submission(provider=NAME, channel=WEB_FORM, where="", sender_id=submission_id,
                     answers=answers, source=source, extra=extra,
                     submitted_at=parse_time(payload.get("submittedAt")), form_key=form_id,
                     hints=hints)
    return Parsed([sub])


PROVIDER = Provider(NAME, WEB_FORM, ("webflow_secret",),
                    verify=verify, parse=lambda hook: parse(hook.body), non_leads_succeed=True)
