"""Google Ads lead form webhooks (PROVIDERS.md section 2).

No signature: the body carries `google_key`, the key the advertiser typed into the form's
webhook setup, compared with ours before the lead is read and never kept in the stored
body. Google's documented success is 200 with `{}`; it retries a 5xx, never a 4xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.capture.mapping import Submission
from services.capture.providers.common import (
    AD_PLATFORM,
    BadDeliveryError,
    Parsed,
    Provider,
    Webhook,
    json_object,
    list_at,
    object_at,
    parse_time,
    text_id,
)
from services.capture.providers.signing import verify_token
from shared.settings import Settings

NAME = "google_ads"


def google_key(doc: Mapping[str, Any]) -> str | None:
    """The key the advertiser typed into the form's webhook setup (Google's own test
    samples spell it `Google_key`)."""
    key = doc.get("google_key", doc.get("Google_key"))
    return key if isinstance(key, str) else None


def verify(hook: Webhook, settings: Settings) -> None:
    verify_token(google_key(json_object(hook.document)), settings.google_ads_key,
                 "google_key")


def redact(body: bytes, settings: Settings) -> bytes:
    """The key travels in the body; the copy kept for tracing must not hold it."""
    return body.replace(orjson.dumps(settings.google_ads_key)[1:-1], b"[redacted]")


def parse(doc: Mapping[str, Any]) -> Parsed:
    lead_id = text_id(doc.get("lead_id"), "lead_id")
    answers: dict[str, Any] = {}
    for k, col in enumerate(list_at(doc.get("user_column_data"), "user_column_data")):
        where = f"user_column_data[{k}]"
        col = object_at(col, where)
        column_id = col.get("column_id")
        if not isinstance(column_id, str) or not column_id:
            raise BadDeliveryError(f"{where}.column_id", "is required")
        value = col.get("string_value")
        if value is not None and not isinstance(value, str | int | float):
            raise BadDeliveryError(f"{where}.string_value", "must be a string")
        answers[column_id] = value
    ids = {k: s for k in ("form_id", "campaign_id", "adgroup_id", "creative_id",
                          "asset_group_id", "gcl_id")
           if (s := text_id(doc.get(k), k, required=False)) and s != "0"}
    extra: dict[str, Any] = {k: ids[k] for k in ("adgroup_id", "creative_id", "asset_group_id")
                             if k in ids}
    if "gcl_id" in ids:
        extra["gclid"] = ids["gcl_id"]
    for key in ("lead_stage", "api_version"):
        if isinstance(doc.get(key), str):
            extra[key] = doc[key]
    sub = Submission(
        provider=NAME, channel=AD_PLATFORM, where="", sender_id=lead_id,
        answers=answers,
        source={k: ids[k] for k in ("form_id", "campaign_id") if k in ids}
        | ({"ad_id": ids["creative_id"]} if "creative_id" in ids else {}),
        extra=extra, test=doc.get("is_test") is True,
        submitted_at=parse_time(doc.get("lead_submit_time")), form_key=ids.get("form_id"),
    )
    return Parsed([sub])


PROVIDER = Provider(
    NAME, AD_PLATFORM, ("google_ads_key",),
    verify=verify, parse=lambda hook: parse(json_object(hook.document)),
    redact=redact, empty_success=True,
)
