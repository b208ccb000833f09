"""The lead as it travels between services (DESIGN.md section 4).

Every stage reads the whole lead from an event's `data`, adds what it learned and
passes it on. Readers ignore fields they do not know, so every model ignores extras.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NotRequired, Required, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import PermanentError


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Source(_Part):
    channel: Literal["web_form", "ad_platform", "api", "import", "event"] = "api"
    provider: str = "api"
    form_id: str | None = None
    campaign_id: str | None = None
    ad_id: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    referrer: str | None = None
    landing_page: str | None = None


class Contact(_Part):
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class Company(_Part):
    name: str | None = None  # without its legal form (enrich)
    legal_name: str | None = None  # as the lead wrote it, when that differs
    domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    country: str | None = None


Seniority = Literal["c_level", "vp", "director", "manager", "individual", "student", "unknown"]


class Title(_Part):
    raw: str | None = None
    seniority: Seniority | None = None
    department: str | None = None


class ConsentItem(_Part):
    key: str  # the checkbox or question as the sender names it
    checked: bool
    text: str | None = None


class Consent(_Part):
    marketing: bool | None = None
    basis: Literal["consent", "legitimate_interest"] | None = None
    text: str | None = None
    captured_at: datetime | None = None
    # Each consent question the sender reported (what was checked), when there were any.
    items: list[ConsentItem] | None = None


class Activity(_Part):
    type: str
    at: datetime
    props: dict[str, Any] = Field(default_factory=dict)


class Flags(_Part):
    free_email: bool = False
    disposable_email: bool = False
    duplicate_of: str | None = None
    test: bool = False
    role_email: bool = False  # info@, sales@: a shared inbox, not a person


class Account(_Part):
    id: str
    name: str | None = None
    owner_rep_id: str | None = None
    match: str | None = None  # how it matched: domain, name
    confidence: float | None = None


class Enrichment(_Part):
    status: Literal["complete", "partial", "skipped", "failed"]
    provider: str | None = None
    at: datetime | None = None


class Reason(_Part):
    rule: str
    points: int
    kind: Literal["fit", "behaviour"] | None = None


class Score(_Part):
    points: int
    fit: int | None = None  # who the lead is
    behaviour: int | None = None  # what the lead did, decayed
    temperature: Literal["hot", "warm", "cold"]
    stage: Literal["lead", "mql"]
    reasons: list[Reason] = Field(default_factory=list)
    model: str


class SlaClock(_Part):
    temperature: str
    due_at: datetime
    clock: Literal["always", "business"]


class Assignment(_Part):
    kind: Literal["rep", "nurture", "queue"]
    rep_id: str | None = None
    team_id: str | None = None
    track: str | None = None
    queue: str | None = None
    rule: str | None = None
    reason: str | None = None
    strategy: str | None = None
    attempt: int = 1
    sla: SlaClock | None = None


class Timings(_Part):
    received_at: datetime | None = None
    enriched_at: datetime | None = None
    scored_at: datetime | None = None
    routed_at: datetime | None = None


class Lead(_Part):
    lead_id: str
    person_key: str
    received_at: datetime
    source: Source = Field(default_factory=Source)
    contact: Contact = Field(default_factory=Contact)
    company: Company = Field(default_factory=Company)
    title: Title = Field(default_factory=Title)
    country: str | None = None
    consent: Consent = Field(default_factory=Consent)
    activities: list[Activity] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)
    flags: Flags = Field(default_factory=Flags)
    account: Account | None = None
    enrichment: Enrichment | None = None
    score: Score | None = None
    assignment: Assignment | None = None
    timings: Timings = Field(default_factory=Timings)


# The lead and its assignment as plain dicts, the form in which they cross hops (an event's
# `data`, a stored copy): checked by mypy, free at run time. `Lead` above is the validating
# model capture applies once; every later hop passes the dict on, adding its section.
# Sections stay loose mappings: readers ignore fields they do not know (DESIGN.md s.4).


class SlaClockData(TypedDict):
    temperature: str
    due_at: str
    clock: str
    warn_at: NotRequired[list[str]]


class AssignmentData(TypedDict, total=False):
    kind: Literal["rep", "nurture", "queue"]
    rep_id: str | None
    team_id: str | None
    track: str | None
    queue: str | None
    rule: str | None
    reason: str | None
    strategy: str | None
    attempt: int
    sla: SlaClockData | None
    rejected: dict[str, Any]
    overflow_from: str  # the rule's team, when a rep of an overflow team took the lead


class LeadData(TypedDict, total=False):
    lead_id: Required[str]
    person_key: Required[str]
    received_at: Required[str]
    source: dict[str, Any]
    contact: dict[str, Any]
    company: dict[str, Any]
    title: dict[str, Any]
    country: str | None
    consent: dict[str, Any]
    activities: list[dict[str, Any]]
    custom: dict[str, Any]
    flags: dict[str, Any]
    account: dict[str, Any] | None
    enrichment: dict[str, Any] | None
    score: dict[str, Any] | None
    assignment: AssignmentData | None
    decision: dict[str, Any]  # route's short decision record on `lead.routed`
    timings: dict[str, Any]


_SECTIONS = ("source", "contact", "company", "title", "consent", "custom", "flags", "timings")


def lead_data(lead: Lead) -> LeadData:
    """A validated lead in the JSON form events carry."""
    return cast(LeadData, lead.model_dump(mode="json"))


def check_lead(data: dict[str, Any]) -> LeadData:
    """The cheap check every hop makes on a lead it consumes: the fields the pipeline
    keys on are there and sections are objects. Capture validated the whole lead against
    `Lead` before publishing it; re-validating the whole model at every hop would cost
    more than the hop's own work. A failure is permanent (the record is dead-lettered)."""
    for key in ("lead_id", "person_key", "received_at"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise PermanentError(f"lead has no {key}")
    try:
        received = datetime.fromisoformat(data["received_at"])
    except ValueError:
        raise PermanentError("lead.received_at is not an RFC 3339 date-time") from None
    if received.tzinfo is None:
        raise PermanentError("lead.received_at has no offset")
    for key in _SECTIONS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise PermanentError(f"lead.{key} is not an object")
    if not isinstance(data.get("activities") or [], list):
        raise PermanentError("lead.activities is not a list")
    return cast(LeadData, data)
