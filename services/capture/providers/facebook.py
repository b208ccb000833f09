"""Meta (Facebook / Instagram) Lead Ads: the Page `leadgen` webhook (PROVIDERS.md section 1).

The GET handshake echoes `hub.challenge` for our verify token; a POST is signed with
`X-Hub-Signature-256` (the app secret over the raw body) and carries ids only, so each
lead is a `Fetch` resolved through the Graph API (`GET /{leadgen_id}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.capture.mapping import ConsentItem, Submission, truthy
from services.capture.providers.common import (
    AD_PLATFORM,
    MAX_ITEMS,
    BadDeliveryError,
    Fetch,
    Parsed,
    Provider,
    Webhook,
    answer_value,
    list_at,
    load_json,
    object_at,
    parse_time,
    required_id,
    text_id,
)
from services.capture.providers.signing import (
    BadSignatureError,
    digests_match,
    hmac_sha256,
    required_header,
    verify_token,
)
from shared.settings import Settings

if TYPE_CHECKING:
    from services.capture.adapters.leadapis import LeadApis

NAME = "facebook"


def handshake(query: Mapping[str, str], settings: Settings) -> str:
    """Meta's subscription check: the challenge back as it was sent, as plain text."""
    if query.get("hub.mode") != "subscribe":
        raise BadSignatureError("hub.mode must be subscribe")
    verify_token(query.get("hub.verify_token"), settings.facebook_verify_token,
                 "hub.verify_token")
    return query.get("hub.challenge", "")


def verify_signature(headers: Mapping[str, str], body: bytes, app_secret: str) -> None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`."""
    given = required_header(headers, "x-hub-signature-256")
    if not given.startswith("sha256="):
        raise BadSignatureError("x-hub-signature-256 must start with sha256=")
    if not digests_match(given[7:].lower(), hmac_sha256(app_secret, body).hex()):
        raise BadSignatureError("x-hub-signature-256 does not match the body")


def verify(hook: Webhook, settings: Settings) -> None:
    verify_signature(hook.headers, hook.body, settings.facebook_app_secret)


def parse(body: bytes) -> Parsed:
    """A Page `leadgen` notification: every entry's every change, ids only."""
    doc = object_at(load_json(body), "body")
    entries = list_at(doc.get("entry"), "entry")
    items: list[Submission | Fetch] = []
    ignored = 0
    for i, entry in enumerate(entries):
        entry = object_at(entry, f"entry[{i}]")
        for j, change in enumerate(list_at(entry.get("changes"), f"entry[{i}].changes")):
            where = f"entry[{i}].changes[{j}]"
            change = object_at(change, where)
            if change.get("field") != "leadgen":
                ignored += 1
                continue
            value = object_at(change.get("value"), f"{where}.value")
            leadgen_id = required_id(value.get("leadgen_id"), f"{where}.value.leadgen_id")
            ref = {k: s for k in ("form_id", "ad_id", "adgroup_id", "page_id", "created_time")
                   if (s := text_id(value.get(k), f"{where}.value.{k}", required=False))}
            items.append(Fetch(NAME, where, leadgen_id, ref))
    if len(items) > MAX_ITEMS:
        raise BadDeliveryError("entry", f"more than {MAX_ITEMS} leads in one notification")
    return Parsed(items, ignored)


async def fetch_lead(item: Fetch, apis: LeadApis) -> dict[str, Any]:
    """The Graph API's lead for a notification."""
    return await apis.facebook_lead(item.sender_id)


def submission(item: Fetch, lead: Mapping[str, Any]) -> Submission:
    """A Graph API lead (`GET /{leadgen_id}`) and its notification, as a submission."""
    answers: dict[str, Any] = {}
    for k, field in enumerate(list_at(lead.get("field_data"), "field_data", required=False)):
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            raise BadDeliveryError(f"{item.where}: field_data[{k}]",
                                   "the Graph API returned a field without a name")
        answers[field["name"]] = answer_value(field.get("values"))
    consent = []
    for box in list_at(lead.get("custom_disclaimer_responses"), "custom_disclaimer_responses",
                       required=False):
        if isinstance(box, dict) and box.get("checkbox_key") is not None:
            # Meta sends is_checked as the string "1" (checked) or "" (not checked).
            consent.append(ConsentItem(str(box["checkbox_key"]), truthy(box.get("is_checked"))))
    ids = {**item.ref, **{k: str(v) for k in ("form_id", "ad_id", "adset_id", "campaign_id")
                          if (v := lead.get(k)) not in (None, "")}}
    extra: dict[str, Any] = {k: ids[k] for k in ("page_id", "adgroup_id", "adset_id")
                             if k in ids}
    if lead.get("is_organic") is not None:
        extra["is_organic"] = bool(lead["is_organic"])
    if lead.get("platform"):
        extra["platform"] = str(lead["platform"])
    return Submission(
        provider=NAME, channel=AD_PLATFORM, where=item.where, sender_id=item.sender_id,
        answers=answers,
        source={k: ids[k] for k in ("form_id", "campaign_id", "ad_id") if k in ids},
        consent=consent, extra=extra,
        submitted_at=parse_time(lead.get("created_time")) or parse_time(
            item.ref.get("created_time")),
        form_key=ids.get("form_id"),
    )


PROVIDER = Provider(
    NAME, AD_PLATFORM, ("facebook_app_secret", "facebook_access_token"),
    verify=verify, parse=lambda hook: parse(hook.body),
    handshake=handshake, handshake_settings=("facebook_verify_token",),
    fetch=fetch_lead, from_fetched=submission,
)
