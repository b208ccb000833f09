"""What capture accepts as an activity (`POST /v1/activities`): a person's action after
capture (a pricing-page visit, a webinar), for score to re-score. Pure: no I/O.

An activity names its lead by `lead_id`, or its person by `email` or `phone` (the person's
latest lead is meant); it has a `type` (`pricing_page_visit`, `webinar_attended`, ...),
an `at` (RFC 3339 with an offset; default now) and optional `props`. Its event id derives
from the person, type, time and the sender's `id` if any, so a retried post is the same
event and score counts it once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from services.capture.intake import RFC3339, InvalidLeadError
from shared import activity
from shared.events import derived_id
from shared.identity import normalize_email, normalize_phone, person_key

ACTIVITY_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
MAX_PROPS_BYTES = 2048
MAX_PER_REQUEST = 1000  # activities in one POST; a person keeps shared.activity's cap


@dataclass
class ActivityIn:
    """A validated activity; `person_key` is None when only `lead_id` names it."""

    lead_id: str | None
    person_key: str | None
    type: str
    at: datetime
    props: dict[str, Any]
    sender_id: str | None

    def event_id(self, person: str) -> str:
        """The sender's own id names the activity when there is one (a retry without `at`
        is still the same event); else its person, type and time do."""
        if self.sender_id:
            return derived_id(person, "activity", "id", self.sender_id)
        return derived_id(person, "activity", self.type, self.at.isoformat())


def read_activity(doc: Any, now: datetime, where: str = "") -> ActivityIn:
    """Validate one activity, or raise InvalidLeadError naming the field."""
    def bad(field: str, reason: str) -> InvalidLeadError:
        return InvalidLeadError(f"{where}{field}", reason)

    if not isinstance(doc, dict):
        raise bad("body", "must be a JSON object")
    kind = doc.get("type")
    if not isinstance(kind, str) or not ACTIVITY_TYPE.fullmatch(kind):
        raise bad("type", "must be a lower-case activity type like pricing_page_visit")
    at = now.astimezone(UTC) if doc.get("at") is None else _time(doc["at"], bad)
    props = _props(doc.get("props") or {}, bad)
    sender_id = doc.get("id")
    if sender_id is not None and (not isinstance(sender_id, str) or not sender_id.strip()
                                  or len(sender_id) > 255 or not sender_id.isprintable()):
        raise bad("id", "must be a string of at most 255 printable characters")
    lead_id = doc.get("lead_id")
    if lead_id is not None:
        try:
            lead_id = str(uuid.UUID(str(lead_id)))
        except ValueError:
            raise bad("lead_id", "must be a lead id (a UUID)") from None
    key = None if lead_id is not None else _person(doc.get("email"), doc.get("phone"), bad)
    return ActivityIn(lead_id, key, kind, at, props, sender_id)


def _time(raw: Any, bad: Callable[[str, str], InvalidLeadError]) -> datetime:
    # Stricter than a stored activity's time: a sender must give the offset.
    if not isinstance(raw, str) or not RFC3339.fullmatch(raw):
        raise bad("at", "must be an RFC 3339 date-time with an offset")
    at = activity.instant({"at": raw})
    if at is None:
        raise bad("at", "is not a real date-time")
    return at


def _props(props: Any, bad: Callable[[str, str], InvalidLeadError]) -> dict[str, Any]:
    if not isinstance(props, dict):
        raise bad("props", "must be an object")
    try:
        size = len(orjson.dumps(props))
    except orjson.JSONEncodeError:
        raise bad("props", "cannot be carried as JSON (an integer beyond 64 bits?)") from None
    if size > MAX_PROPS_BYTES:
        raise bad("props", f"larger than {MAX_PROPS_BYTES} bytes")
    return props


def _person(email: Any, phone: Any, bad: Callable[[str, str], InvalidLeadError]) -> str:
    """The person key of an activity named by email or phone, not by lead id."""
    if email is None and phone is None:
        raise bad("lead_id", "an activity needs a lead_id, an email or a phone")
    normal_email = normalize_email(email) if isinstance(email, str) else None
    normal_phone = normalize_phone(phone, None) if isinstance(phone, str) else None
    if email is not None and normal_email is None:
        raise bad("email", "not a valid email")
    if phone is not None and normal_phone is None and normal_email is None:
        raise bad("phone", "not a possible phone number (add the +country code)")
    return person_key(normal_email, normal_phone, "")
