"""What capture accepts as a lead: validation of a submitted payload, the lead id, and the
person key. Pure: no I/O; `now` is passed in.

A payload may use the lead's own shape (DESIGN.md section 4: `contact`, `company`,
`title.raw`, `source`, `consent`, `activities`, `custom`) or the flat names a form would
use (`email`, `phone`, `first_name`, `last_name`, `full_name`, `company` as a name,
`job_title`, `website`, `country`, `utm_*`, `form_id`, `campaign_id`, `ad_id`,
`submitted_at`). Unknown flat fields are kept under `custom`.

Contact fields, `full_name`, `company` as a name, `website`, `country`, `title` strings
and the source's ids, `utm_*`, `referrer` and `landing_page` are at most MAX_FIELD_CHARS
characters. Source ids may arrive as JSON numbers (ad platforms send them so) and are
kept as their exact digits. `submitted_at`, when
given, must be an RFC 3339 date-time with an offset and is kept, as sent, in
`custom.submitted_at`. An integer beyond 64 bits anywhere in the body is refused: it
cannot be carried exactly, so such numbers must be sent as strings.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from shared.errors import InvalidInputError
from shared.events import uuid5_str
from shared.identity import (
    email_problem,
    normalize_country,
    normalize_email,
    normalize_phone,
    person_key,
    split_full_name,
)
from shared.lead import Lead

LEAD_NS = uuid.UUID("1e4f6b8a-4c1d-5b7e-8f3a-6c6561646964")

FLAT_CONTACT = ("email", "phone", "first_name", "last_name")
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
SOURCE_FLAT = (*UTM, "referrer", "landing_page", "form_id", "campaign_id", "ad_id")
NESTED = ("lead_id", "person_key", "received_at", "source", "contact", "title", "consent",
          "activities", "custom", "flags", "timings", "account", "enrichment", "score",
          "assignment")
MAX_FIELD_CHARS = 2000
KNOWN_FIELDS = frozenset((*NESTED, *FLAT_CONTACT, *SOURCE_FLAT, "full_name", "job_title",
                          "website", "company", "country", "submitted_at"))
# RFC 3339 section 5.6 date-time: the offset is required ("Z" or +hh:mm / -hh:mm).
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


class InvalidLeadError(InvalidInputError):
    """A payload capture refuses; `field` is a path in the submitted body."""


def derive_lead_id(provider: str, sender_id: str | None, payload: dict[str, Any]) -> str:
    """UUIDv5 from the source and the sender's own id (or Idempotency-Key); else from a hash
    of the content, so a retried delivery is the same lead."""
    if sender_id:
        return uuid5_str(LEAD_NS, f"{provider}:id:{sender_id}")
    digest = hashlib.sha256(_canonical_json(payload)).hexdigest()
    return uuid5_str(LEAD_NS, f"{provider}:content:{digest}")


def _canonical_json(payload: Any) -> bytes:
    """The payload as JSON with sorted keys, or InvalidLeadError when it holds what JSON cannot
    carry exactly (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # a TypeError
        reason = str(exc) or "cannot be encoded as JSON"
        if "integer" in reason.lower():
            reason = "an integer is beyond the 64-bit range; send such numbers as strings"
        raise InvalidLeadError("body", reason) from None


def _submitted_at(value: Any) -> str:
    """`submitted_at` as sent, when it is an RFC 3339 date-time with an offset."""
    problem = InvalidLeadError("submitted_at", "must be an RFC 3339 date-time with an offset")
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise problem
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        raise problem from None
    return value


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidLeadError(field, "must be a string")
    out = str(value).strip()
    if len(out) > MAX_FIELD_CHARS:
        raise InvalidLeadError(field, f"longer than {MAX_FIELD_CHARS} characters")
    return out or None


def _section(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidLeadError(name, "must be an object")
    return dict(value)


def _company(payload: dict[str, Any]) -> dict[str, Any]:
    if isinstance(payload.get("company"), dict):
        return dict(payload["company"])
    name = _text(payload.get("company"), "company")
    return {"name": name} if name else {}


def _fold_contact(payload: dict[str, Any], contact: dict[str, Any]) -> None:
    """The flat contact names (`email`, ..., `full_name`) into `contact`."""
    for key in FLAT_CONTACT:
        if key in payload and key not in contact:
            contact[key] = payload[key]
    if "full_name" in payload and not (contact.get("first_name") or contact.get("last_name")):
        full = _text(payload["full_name"], "full_name")
        if full:
            contact["first_name"], contact["last_name"] = split_full_name(full)


def _fold_title(payload: dict[str, Any], title: dict[str, Any]) -> None:
    if "job_title" in payload and "raw" not in title:
        title["raw"] = _text(payload["job_title"], "job_title")
    if "raw" in title:
        title["raw"] = _text(title["raw"], "title.raw")
    for key, value in title.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise InvalidLeadError(f"title.{key}", f"longer than {MAX_FIELD_CHARS} characters")


def _fold_rest(payload: dict[str, Any], source: dict[str, Any], custom: dict[str, Any]
               ) -> None:
    """The flat source names into `source`; `website`, `submitted_at` and unknown flat
    fields into `custom`."""
    for key in SOURCE_FLAT:
        if key in payload and key not in source:
            source[key] = payload[key]
    if "website" in payload:
        custom.setdefault("website", _text(payload["website"], "website"))
    if payload.get("submitted_at") is not None:
        custom["submitted_at"] = _submitted_at(payload["submitted_at"])
    for key, value in payload.items():
        if key not in KNOWN_FIELDS:
            custom.setdefault(key, value)


# A sender that cannot correct its lead (a webhook, an import) is `lenient`: a value that
# does not parse is kept under custom.invalid_fields (`dropped`), as long as the lead
# still has a channel, rather than losing the whole lead.

def _country(payload: dict[str, Any], company: dict[str, Any], lenient: bool,
             dropped: dict[str, dict[str, str]]) -> str | None:
    country_raw = _text(payload.get("country") or company.get("country"), "country")
    country = normalize_country(country_raw) if country_raw else None
    if country_raw and country is None:
        if not lenient:
            raise InvalidLeadError("country", f"unknown country {country_raw!r}")
        dropped["country"] = {"value": country_raw, "reason": "unknown country"}
    return country


def _channels(contact: dict[str, Any], country: str | None, lenient: bool,
              dropped: dict[str, dict[str, str]]) -> tuple[str | None, str | None]:
    """The lead's normalized email and phone; at least one is required."""
    email = None
    email_problem_: InvalidLeadError | None = None
    if contact["email"]:
        email = normalize_email(contact["email"])
        if email is None:
            email_problem_ = InvalidLeadError(
                "contact.email", email_problem(contact["email"]) or "not a valid email")
    phone = None
    phone_problem: InvalidLeadError | None = None
    if contact["phone"]:
        phone = normalize_phone(contact["phone"], country)
        digits = re.sub(r"[\s().-]", "", contact["phone"])
        if phone is None and lenient and digits.isdigit() and len(digits) >= 10:
            # Sent as a bare number (Webflow sends JSON numbers): international digits.
            phone = normalize_phone(f"+{digits}", None)
        if phone is None:
            where = f" for country {country}" if country else " (add +country code or country)"
            phone_problem = InvalidLeadError("contact.phone", f"not a possible phone number{where}")
    for problem, value in ((email_problem_, contact["email"]), (phone_problem,
                                                                contact["phone"])):
        if problem is None:
            continue
        if not lenient or not (email or phone):
            raise problem
        dropped[problem.field.removeprefix("contact.")] = {"value": value,
                                                            "reason": problem.reason}
    if not email and not phone:
        raise InvalidLeadError("contact", "a lead needs an email or a phone")
    return email, phone


def lead_from_payload(
    payload: Any,
    *,
    provider: str,
    channel: str,
    now: datetime,
    sender_id: str | None = None,
    lenient: bool = False,
) -> Lead:
    """Validate a submitted payload and build the captured lead, or raise InvalidLeadError."""
    if not isinstance(payload, dict):
        raise InvalidLeadError("body", "must be a JSON object")
    contact = _section(payload, "contact")
    source = _section(payload, "source")
    custom = _section(payload, "custom")
    title = _section(payload, "title")
    company = _company(payload)
    _fold_contact(payload, contact)
    _fold_title(payload, title)
    _fold_rest(payload, source, custom)

    for key in FLAT_CONTACT:
        contact[key] = _text(contact.get(key), f"contact.{key}")
    dropped: dict[str, dict[str, str]] = {}
    country = _country(payload, company, lenient, dropped)
    email, phone = _channels(contact, country, lenient, dropped)
    if dropped:
        custom["invalid_fields"] = dropped

    for key in SOURCE_FLAT:
        # Ad platforms send their ids as JSON numbers: kept as their exact digits.
        if source.get(key) is not None:
            source[key] = _text(source[key], f"source.{key}")
    source.setdefault("provider", provider)
    source.setdefault("channel", channel)
    if sender_id:
        _canonical_json(payload)  # refused even when the id does not need the content
    lead_id = derive_lead_id(provider, sender_id, payload)
    received = now.astimezone(UTC)
    data = {
        "lead_id": lead_id,
        "person_key": person_key(email, phone, lead_id),
        "received_at": received,
        "source": source,
        "contact": {**contact, "email": email, "phone": phone},
        "company": company,
        "title": title,
        "country": country,
        "consent": _section(payload, "consent"),
        "activities": payload.get("activities") or [],
        "custom": custom,
        "flags": {"test": bool(_section(payload, "flags").get("test", False))},
        "timings": {"received_at": received},
    }
    try:
        return Lead.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InvalidLeadError(field, err["msg"]) from None
