"""Lead-to-lead and lead-to-account decisions. Pure: the handler loads what they need.

One person record per person key. A repeat lead links to the first (`flags.duplicate_of`),
keeps the first touch's source, adds its activities to the person's (one activity per
type and instant, whatever UTC offset it was written in), and fills empty
fields from what is known without erasing what the new lead says. An account matches by
the lead's company domain (never a free-mail domain), then by its cleaned company name,
exactly or fuzzily, with tie-breakers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from services.enrich.companies import company_key
from services.enrich.domains import is_free_email_domain
from shared import activity
from shared.lead import LeadData

PROFILE_SECTIONS: tuple[Literal["contact", "company", "title"], ...] = (
    "contact", "company", "title")


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
    country: str | None = None  # ISO alpha-2, from the accounts file's country column


def link_person(lead: LeadData, known: Person | None, now: datetime) -> Person:
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
            if key == "legal_name" and current.get("name") not in (None, ""):
                continue  # a legal name belongs with the name it was written with
            if current.get(key) in (None, "") and value not in (None, ""):
                current[key] = value
        lead[section] = current
        person.profile[section] = {**stored, **{k: v for k, v in current.items()
                                                if v not in (None, "")}}
    if not lead.get("country") and person.profile.get("country"):
        lead["country"] = person.profile["country"]
    if lead.get("country"):
        person.profile["country"] = lead["country"]

    person.profile["activities"] = activity.merge(person.profile.get("activities", []),
                                                  lead.get("activities") or [])
    lead["activities"] = person.profile["activities"]

    if lead_id not in person.lead_ids:
        person.lead_ids.add(lead_id)
        person.last_lead_id = lead_id
        person.last_seen_at = now
    return person


def match_account(lead: Mapping[str, Any], by_domain: dict[str, AccountRecord],
                  by_name: AccountIndex | None = None) -> dict[str, Any] | None:
    """The account whose domains include the lead's company domain (never one matched by
    a free-mail domain: CRMs collect catch-all accounts like "Gmail users"); failing
    that, the account whose cleaned name matches the lead's company name (`AccountIndex`).
    The result says how it matched and with what confidence."""
    company = lead.get("company") or {}
    domain = company.get("domain")
    if domain and not is_free_email_domain(domain):
        account = by_domain.get(domain)
        if account is not None:
            return _account(account, "domain", 1.0)
    if by_name is not None:
        found = by_name.match(company.get("name"),
                              lead.get("country") or company.get("country"))
        if found is not None:
            account, method, confidence = found
            return _account(account, method, confidence)
    return None


def _account(account: AccountRecord, method: str, confidence: float) -> dict[str, Any]:
    return {"id": account.id, "name": account.name, "owner_rep_id": account.owner_rep_id,
            "match": method, "confidence": round(confidence, 3)}


# Name matching: the lead's company name and the accounts' names compared once cleaned of
# legal forms, case, accents, punctuation, a leading "The" and parentheses (`company_key`).
# An identical key is a "name" match. Otherwise a "name_fuzzy" match needs the same words
# in any order, each identical or, in words of six letters or more, one typo apart
# (`Initech Sytems` = `Initech Systems`; `Australia Post` is not `Austria Post`, `Acme` is
# not `Acme Labs`). Among candidates, an exact name beats a fuzzy one, then the lead's
# country, then an owner being set; candidates still tied are ambiguous and match nothing.
NAME_CONFIDENCE = 0.9  # an identical cleaned name: sure, but less than a domain
FUZZY_CONFIDENCE = 0.8
_CANDIDATE_CUTOFF = 80.0


class AccountIndex:
    """Known accounts by cleaned name, for `match_account`."""

    def __init__(self, accounts: list[AccountRecord]) -> None:
        self.by_key: dict[str, list[AccountRecord]] = {}
        for account in accounts:
            key = company_key(account.name)
            if key:
                self.by_key.setdefault(key, []).append(account)
        self.keys = list(self.by_key)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_key.values())

    def match(self, name: str | None, country: str | None
              ) -> tuple[AccountRecord, str, float] | None:
        key = company_key(name)
        if not key or not self.keys:
            return None
        if key in self.by_key:
            candidates, method, confidence = self.by_key[key], "name", NAME_CONFIDENCE
        else:
            hits = process.extract(key, self.keys, scorer=fuzz.token_sort_ratio, limit=10,
                                   score_cutoff=_CANDIDATE_CUTOFF)
            candidates = [a for k, _, _ in hits if _same_words(key, k) for a in self.by_key[k]]
            method, confidence = "name_fuzzy", FUZZY_CONFIDENCE
        if not candidates:
            return None
        ranked = sorted(candidates, key=lambda a: _rank(a, country), reverse=True)
        if len(ranked) > 1 and _rank(ranked[0], country) == _rank(ranked[1], country):
            return None  # two accounts equally likely: a wrong owner is worse than none
        return ranked[0], method, confidence


def _same_words(a: str, b: str) -> bool:
    left, right = sorted(a.split()), sorted(b.split())
    if len(left) != len(right):
        return False
    return all(x == y or (min(len(x), len(y)) >= 6 and Levenshtein.distance(x, y) <= 1)
               for x, y in zip(left, right, strict=True))


def _rank(account: AccountRecord, country: str | None) -> tuple[bool, bool]:
    return (bool(country) and account.country == country, account.owner_rep_id is not None)
