"""Unbounce form webhooks (PROVIDERS.md section 7).

Unbounce signs nothing: the webhook URL carries our `?token=`, compared in constant time.
The post is a form (its top-level fields, `data.json` a JSON string in which every value
is a list) or, when so configured, a JSON body. There is no lead id: the page, the
variant and the whole submission name the lead, so a retried post is the same lead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from services.capture.mapping import Submission
from services.capture.providers.common import (
    UTM_KEYS,
    WEB_FORM,
    BadDeliveryError,
    Parsed,
    Provider,
    Webhook,
    answer_value,
    json_object,
    load_json,
    utm_from_url,
)
from services.capture.providers.signing import verify_token
from shared.settings import Settings

NAME = "unbounce"
_META = ("ip_address", "page_uuid", "variant", "time_submitted", "date_submitted",
         "page_url", "page_name", "page_id")


def verify(hook: Webhook, settings: Settings) -> None:
    verify_token(hook.query.get("token"), settings.unbounce_token, "token")


def parse(fields: Mapping[str, Any]) -> Parsed:
    """The form post (its top-level fields, `data.json` a JSON string) or a JSON body."""
    raw = fields.get("data.json")
    if isinstance(raw, str):
        data = load_json(raw.encode("utf-8", "surrogatepass"), "data.json")
    elif isinstance(raw, dict):
        data = raw
    else:
        raise BadDeliveryError("data.json", "is required")
    if not isinstance(data, dict):
        raise BadDeliveryError("data.json", "must be a JSON object")
    meta = {k: answer_value(data.get(k)) for k in _META if data.get(k) not in (None, [])}
    page_id = fields.get("page_id") or meta.get("page_uuid") or meta.get("page_id")
    variant = fields.get("variant") or meta.get("variant")
    page_url = fields.get("page_url") or meta.get("page_url")
    answers = {k: v for k, v in data.items() if k not in _META}
    source: dict[str, str] = {}
    for key in UTM_KEYS:
        if key in answers:
            value = answer_value(answers.pop(key))
            if value:
                source[key] = str(value)
    if isinstance(page_url, str) and page_url:
        source["landing_page"] = page_url
        for k, v in utm_from_url(page_url).items():
            source.setdefault(k, v)
    if page_id:
        source["form_id"] = str(page_id)
    # Unbounce sends no lead id: the page, the variant and the whole submission (which
    # holds its date and minute) identify it, so a retried post is the same lead.
    digest = hashlib.sha256(orjson.dumps([str(page_id), str(variant), data],
                                         option=orjson.OPT_SORT_KEYS)).hexdigest()
    submitted = None
    if meta.get("date_submitted") and meta.get("time_submitted"):
        submitted = _submitted_at(str(meta["date_submitted"]), str(meta["time_submitted"]))
    extra = {k: str(v) for k, v in (("page_name", fields.get("page_name") or
                                     meta.get("page_name")), ("variant", variant),
                                    ("ip_address", meta.get("ip_address"))) if v}
    sub = Submission(provider=NAME, channel=WEB_FORM, where="",
                     sender_id=f"content:{digest}", answers=answers, source=source,
                     extra=extra, submitted_at=submitted,
                     form_key=str(page_id) if page_id else None)
    return Parsed([sub])


def read(hook: Webhook) -> Parsed:
    """The form's fields as the HTTP edge read them, or the JSON body."""
    return parse(hook.fields if hook.fields is not None else json_object(hook.document))


def _submitted_at(day: str, clock: str) -> datetime | None:
    """`2024-03-05` and `04:17 PM UTC`."""
    try:
        return datetime.strptime(f"{day} {clock.replace(' UTC', '')}",
                                 "%Y-%m-%d %I:%M %p").replace(tzinfo=UTC)
    except ValueError:
        return None


PROVIDER = Provider(NAME, WEB_FORM, ("unbounce_token",), verify=verify, parse=read, forms=True)
