"""Typeform webhooks (PROVIDERS.md section 4).

Signed with `Typeform-Signature: sha256=<base64>` over the raw body. Answers carry no
field names: each is named by its field's `ref`. A partial response is no finished lead.
Typeform disables a webhook answered 404 or 410, so nothing here is ever answered so.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from services.capture.mapping import ConsentItem, Submission
from services.capture.providers.common import (
    UTM_KEYS,
    WEB_FORM,
    BadDeliveryError,
    Parsed,
    Provider,
    Webhook,
    dict_or_empty,
    list_at,
    load_json,
    object_at,
    parse_time,
    text_id,
)
from services.capture.providers.signing import (
    BadSignatureError,
    digests_match,
    hmac_sha256,
    required_header,
)
from shared.settings import Settings

NAME = "typeform"
_VALUE_KEYS = ("text", "email", "phone_number", "number", "boolean", "date", "url",
               "file_url")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """`Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, raw body)>`."""
    given = required_header(headers, "typeform-signature")
    if not given.startswith("sha256="):
        raise BadSignatureError("typeform-signature must start with sha256=")
    expected = base64.b64encode(hmac_sha256(secret, body)).decode()
    if not digests_match(given[7:], expected):
        raise BadSignatureError("typeform-signature does not match the body")


def verify(hook: Webhook, settings: Settings) -> None:
    verify_signature(hook.headers, hook.body, settings.typeform_secret)


def _answer_value(answer: dict[str, Any], kind: Any) -> Any:
    if kind in _VALUE_KEYS:
        return answer.get(kind)
    if kind == "choice":
        choice = answer.get("choice") or {}
        return choice.get("label") or choice.get("other") if isinstance(choice, dict) else None
    if kind == "choices":
        choices = answer.get("choices") or {}
        value = list(choices.get("labels") or []) if isinstance(choices, dict) else None
        if isinstance(choices, dict) and choices.get("other"):
            value = [*(value or []), choices["other"]]
        return value
    return answer.get(kind) if isinstance(kind, str) else None


def parse(body: bytes) -> Parsed:
    doc = object_at(load_json(body), "body")
    if doc.get("event_type") not in (None, "form_response"):
        return Parsed([], ignored=1)  # form_response_partial: not a finished lead
    response = object_at(doc.get("form_response"), "form_response")
    token = text_id(response.get("token"), "form_response.token")
    definition = dict_or_empty(response.get("definition"))
    fields = [f for f in definition.get("fields") or [] if isinstance(f, dict)]
    titles = {f.get("id"): f.get("title") for f in fields}
    refs = {f.get("id"): f.get("ref") for f in fields}
    answers: dict[str, Any] = {}
    hints: dict[str, str] = {}
    consent = []
    for k, answer in enumerate(list_at(response.get("answers"), "form_response.answers",
                                       required=False)):
        where = f"form_response.answers[{k}]"
        answer = object_at(answer, where)
        fld = object_at(answer.get("field"), f"{where}.field")
        name = fld.get("ref") or refs.get(fld.get("id")) or fld.get("id")
        if not isinstance(name, str) or not name:
            raise BadDeliveryError(f"{where}.field.ref", "is required")
        kind = answer.get("type")
        if fld.get("type") == "legal":
            consent.append(ConsentItem(name, answer.get("boolean") is True,
                                       titles.get(fld.get("id")) or None))
            continue
        answers[name] = _answer_value(answer, kind)
        if kind == "email":
            hints[name] = "email"
        elif kind == "phone_number":
            hints[name] = "phone"
    hidden = dict_or_empty(response.get("hidden"))
    source = {k: str(v) for k, v in hidden.items() if k in UTM_KEYS and v}
    extra: dict[str, Any] = {k: v for k, v in hidden.items() if k not in UTM_KEYS}
    calculated = response.get("calculated")
    if isinstance(calculated, dict) and calculated.get("score") is not None:
        extra["typeform_score"] = calculated["score"]
    form_id = text_id(response.get("form_id"), "form_response.form_id", required=False)
    if form_id:
        source["form_id"] = form_id
    sub = Submission(
        provider=NAME, channel=WEB_FORM, where="", sender_id=token, answers=answers,
        source=source, consent=consent, extra=extra,
        submitted_at=parse_time(response.get("submitted_at")), form_key=form_id, hints=hints,
    )
    return Parsed([sub])


PROVIDER = Provider(NAME, WEB_FORM, ("typeform_secret",),
                    verify=verify, parse=lambda hook: parse(hook.body))
