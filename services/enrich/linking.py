"""Lead-to-lead and lead-to-account decisions. Pure: the handler loads what they need.

One person record per person key. A repeat lead links to the first (`flags.duplicate_of`),
keeps the first touch's source, adds its activities to the person's (one activity per
type and instant, whatever UTC offset it was written in), and fills empty
fields from what is known without erasing what the new lead says. An account matches by
the lead's company domain, never by a free-mail domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.enrich.enrichment import is_free_email_domain

MAX_ACTIVITIES = 500
PROFILE_SECTIONS = ("contact", "company", "title")


@dataclass
class Person:
    person_key: str
    first_lead_id: str
    first_seen_at: datetime
    last_lead_id: str
    last_seen_at: datetime
    first_source: dict[str, Any]
    profile: dict[str, Any] = field(default_factory=dict)
    lead_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AccountRecord:
    id: str
    name: str
    owner_rep_id: str | None


def _activity_instant(activity: dict[str, Any]) -> datetime | None:
    """The activity's `at` as a UTC datetime (a time without an offset is read as UTC), or
    None when it is not an ISO 8601 date-time."""
    at = activity.get("at")
    if isinstance(at, str):
        text = at.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            return None
    if not isinstance(at, datetime):
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _activity_key(activity: dict[str, Any]) -> tuple[str, str]:
    """One instant is one activity whatever offset it was written in; an `at` that is not
    a date-time is compared as given."""
    instant = _activity_instant(activity)
    at = instant.isoformat() if instant is not None else str(activity.get("at"))
    return (str(activity.get("type")), at)


def _activity_order(activity: dict[str, Any]) -> tuple[int, datetime | str]:
    """Time order in UTC; activities whose `at` is not a date-time come last."""
    instant = _activity_instant(activity)
    return (0, instant) if instant is not None else (1, str(activity.get("at")))


def link_person(lead: dict[str, Any], known: Person | None, now: datetime) -> Person:
    """Merge `lead` (already normalized) into the person record; mutates `lead` so that it
    carries the link, the first source, the filled fields and all activities."""
    lead_id = lead["lead_id"]
    if known is None:
        known = Person(
            person_key=lead["person_key"], first_lead_id=lead_id, first_seen_at=now,
            last_lead_id=lead_id, last_seen_at=now, first_source=dict(lead.get("source") or {}),
            profile={"activities": []},
        )
    person = known
    if lead_id != person.first_lead_id:
        lead.setdefault("flags", {})["duplicate_of"] = person.first_lead_id
        # First touch is kept: attribution belongs to the first source.
        lead["source"] = {**(lead.get("source") or {}), **person.first_source}
    for section in PROFILE_SECTIONS:
        stored = person.profile.get(section) or {}
        current = lead.setdefault(section, {}) or {}
        for key, value in stored.items():
            if current.get(key) in (None, "") and value not in (None, ""):
                current[key] = value
        lead[section] = current
        person.profile[section] = {**stored, **{k: v for k, v in current.items()
                                                if v not in (None, "")}}
    if not lead.get("country") and person.profile.get("country"):
        lead["country"] = person.profile["country"]
    if lead.get("country"):
        person.profile["country"] = lead["country"]

    seen = {_activity_key(a) for a in person.profile.get("activities", [])}
    merged = list(person.profile.get("activities", []))
    for activity in lead.get("activities") or []:
        if _activity_key(activity) not in seen:
            merged.append(activity)
            seen.add(_activity_key(activity))
    merged.sort(key=_activity_order)
    person.profile["activities"] = merged[-MAX_ACTIVITIES:]
    lead["activities"] = person.profile["activities"]

    if lead_id not in person.lead_ids:
        person.lead_ids.add(lead_id)
        person.last_lead_id = lead_id
        person.last_seen_at = now
    return person


def match_account(lead: dict[str, Any], by_domain: dict[str, AccountRecord]) -> dict[str, Any] | None:
    """The account whose domains include the lead's company domain; never one matched by a
    free-mail domain (CRMs collect catch-all accounts like "Gmail users")."""
    domain = (lead.get("company") or {}).get("domain")
    if not domain or is_free_email_domain(domain):
        return None
    account = by_domain.get(domain)
    if account is None:
        return None
    return {"id": account.id, "name": account.name, "owner_rep_id": account.owner_rep_id,
            "match": "domain", "confidence": 1.0}

