"""The org file (DESIGN.md section 6): what a valid sales org is, and how it is read.

Decides which org files are accepted, all or nothing: unknown keys, bad values,
conditions with unknown operators, destinations naming teams or reps that do not exist,
duplicate ids and impossible thresholds are errors. Every error is an `OrgError` that names
the file, the path in it and the problem (`org.yaml: teams[0].reps[1].weight: must be a
positive integer`). It also settles two things the scorer relies on: whether a scoring
rule is about fit or behaviour, and which activity type a per-activity rule counts.

The YAML is read with YAML 1.2 booleans (only `true`/`false`), so `NO` (Norway) or `on`
stay strings, and a key given twice in one mapping is an error rather than silently lost.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
import typing
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.conditions import (
    OrgError,
    Predicate,
    compile_condition,
    condition_fields,
    join_path,
    validate_condition,
)

if TYPE_CHECKING:
    from shared.calendar import BusinessCalendar

__all__ = [
    "Decay",
    "Destination",
    "Escalate",
    "Leave",
    "OrgError",
    "OrgFile",
    "Rep",
    "Routing",
    "RoutingRule",
    "Scoring",
    "ScoringRule",
    "Sla",
    "SlaTier",
    "Team",
    "Temperature",
    "Threshold",
    "format_duration",
    "load_org",
    "load_org_file",
    "parse_duration",
]


# --- durations -------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(s: str) -> timedelta:
    """`90s`, `5m`, `4h`, `2d` and combinations in that order (`1h30m`, `1d12h`)."""
    match = _DURATION.fullmatch(s.strip()) if isinstance(s, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{s!r} is not a duration like 90s, 5m, 4h, 2d or 1h30m")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(td: timedelta) -> str:
    """The inverse of parse_duration, so a dumped org file reads back the same."""
    rest = int(td.total_seconds())
    if rest == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        # ValueError, not TypeError: pydantic reports only ValueError as a validation error.
        raise ValueError("must be a duration like 90s, 5m, 4h or 2d")
    return parse_duration(value)


def _positive_duration(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
PositiveDuration = Annotated[Duration, AfterValidator(_positive_duration)]


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative(value: int) -> int:
    if value < 0:
        raise ValueError("must be zero or a positive integer")
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


PositiveInt = Annotated[StrictInt, AfterValidator(_positive)]
NonNegativeInt = Annotated[StrictInt, AfterValidator(_non_negative)]
Name = Annotated[str, AfterValidator(_non_empty)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- teams -----------------------------------------------------------------------------

class Leave(_Model):
    """A rep's absence, both days included."""

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> Leave:
        if self.to < self.from_:
            raise OrgError("to", f"ends before it starts ({self.from_.isoformat()})")
        return self


class Rep(_Model):
    id: Name
    name: str | None = None
    email: str | None = None
    weight: PositiveInt = 1
    capacity: NonNegativeInt | None = None  # open assignments at most; None: no cap
    leave: list[Leave] = Field(default_factory=list)

    def on_leave(self, day: date) -> bool:
        return any(period.from_ <= day <= period.to for period in self.leave)


NotifyOn = Literal["assigned", "warning", "breached"]
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Notify(_Model):
    """A team's outbound webhook (Slack-compatible incoming-webhook JSON). The URL is a
    secret in most tools, so it may be named by an environment variable instead."""

    webhook_url: str | None = None
    webhook_url_env: str | None = None
    on: list[NotifyOn] = Field(default_factory=lambda: ["assigned", "warning", "breached"])

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("webhook_url_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name like LEADFLOW_SLACK_URL")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> Notify:
        if (self.webhook_url is None) == (self.webhook_url_env is None):
            raise ValueError("give exactly one of webhook_url or webhook_url_env")
        return self


class Team(_Model):
    id: Name
    strategy: Literal["round_robin", "weighted", "least_loaded"] = "round_robin"
    timezone: str = "UTC"
    hours: dict[str, str] | None = None  # None: always open
    holidays: str | None = None  # US, GB, DE-BY: see shared.calendar
    # queue: reps are not eligible while the team is closed (hours, holidays), so leads go
    # to the fallback queue; assign: hours only drive business-clock SLAs.
    outside_hours: Literal["queue", "assign"] = "queue"
    reps: list[Rep]
    fallback_queue: str | None = None
    notify: Notify | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (expected an IANA name like Europe/London)"
            ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            _check_hours(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None:
            _check_holidays(value)
        return value

    @field_validator("reps")
    @classmethod
    def _staffed(cls, value: list[Rep]) -> list[Rep]:
        if not value:
            raise ValueError("a team needs at least one rep")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def calendar(self) -> BusinessCalendar:
        """The team's open time (hours, time zone, holidays) for business-clock SLAs."""
        from shared.calendar import BusinessCalendar, parse_hours

        hours = parse_hours(self.hours) if self.hours is not None else None
        return BusinessCalendar(self.timezone, hours, self.holidays)


def _check_hours(hours: dict[str, str]) -> None:
    # shared.calendar owns the meaning of business hours and holiday codes; imported here,
    # not at the top, so that the two modules never depend on each other's import order.
    from shared.calendar import parse_hours

    try:
        parse_hours(hours)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def _check_holidays(country: str) -> None:
    from shared.calendar import BusinessCalendar

    BusinessCalendar("UTC", None, country)  # raises ValueError naming the code


# --- routing ---------------------------------------------------------------------------

DestinationKind = Literal["team", "rep", "nurture", "queue"]


class Destination(_Model):
    """Where a lead goes: exactly one of a team, a rep, a nurture track or a queue."""

    team: str | None = None
    rep: str | None = None
    nurture: str | None = None
    queue: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Destination:
        given = [k for k in ("team", "rep", "nurture", "queue") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of team, rep, nurture or queue"
                             + (f" (got {', '.join(given)})" if given else ""))
        if not getattr(self, given[0]).strip():
            raise OrgError(given[0], "must not be empty")
        return self

    @property
    def kind(self) -> DestinationKind:
        for kind in ("team", "rep", "nurture", "queue"):
            if getattr(self, kind) is not None:
                return kind  # type: ignore[return-value]
        raise AssertionError("validated to have one destination")

    @property
    def target(self) -> str:
        """The team id, rep id, track or queue name."""
        return str(getattr(self, self.kind))


class _Conditional(_Model):
    when: dict[str, Any] = Field(default_factory=dict)
    _predicate: Predicate = PrivateAttr()

    @field_validator("when")
    @classmethod
    def _valid_condition(cls, value: dict[str, Any]) -> dict[str, Any]:
        validate_condition(value, "")
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._predicate = compile_condition(self.when)

    def matches(self, lead: dict[str, Any]) -> bool:
        """Whether the rule's `when` holds for the lead (as a JSON-form dict)."""
        # Straight from the private dict: `self._predicate` goes through pydantic's
        # __getattr__, which costs more than most conditions do.
        predicate: Predicate = self.__pydantic_private__["_predicate"]  # type: ignore[index]
        return predicate(lead)


class RoutingRule(_Conditional):
    name: Name
    to: Destination


class Sticky(_Model):
    """A returning person goes back to the rep who holds them: a rep assignment made within
    `within` that is still the lead's current one (not breached, escalated or rejected)."""

    within: PositiveDuration = timedelta(days=30)


class Routing(_Model):
    account_owner_first: bool = False
    sticky: Sticky | None = Field(default_factory=Sticky)  # null: no stickiness
    # Where a lead a rep rejects goes (the reason is recorded): a nurture track or a queue.
    rejected: Destination = Field(default_factory=lambda: Destination(nurture="sales-rejected"))
    rules: list[RoutingRule]

    @field_validator("rejected")
    @classmethod
    def _back_to_marketing(cls, value: Destination) -> Destination:
        if value.kind not in ("nurture", "queue"):
            raise ValueError("a rejected lead goes to a nurture track or a queue, "
                             f"not a {value.kind}")
        return value

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[RoutingRule]) -> list[RoutingRule]:
        _check_unique_names(value)
        return value


def _check_unique_names(rules: list[RoutingRule] | list[ScoringRule]) -> None:
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise OrgError(f"[{i}].name", f"{rule.name!r} is already the name of "
                                          f"rule [{seen[rule.name]}]")
        seen[rule.name] = i


# --- SLA -------------------------------------------------------------------------------

class SlaTier(_Model):
    within: PositiveDuration
    clock: Literal["always", "business"] = "always"
    # Reminders (`sla.warning`) at fractions of `within`: 0.8, or a ladder [0.5, 0.8].
    warn_at: float | list[float] | None = None

    @field_validator("warn_at")
    @classmethod
    def _fraction(cls, value: float | list[float] | None) -> float | list[float] | None:
        fractions = value if isinstance(value, list) else [] if value is None else [value]
        for fraction in fractions:
            if not 0 < fraction < 1:
                raise ValueError("must be a fraction of `within` between 0 and 1, like 0.8, "
                                 "or a list of them")
        if len(set(fractions)) != len(fractions):
            raise ValueError("the same fraction is listed twice")
        return value

    @property
    def warn_fractions(self) -> tuple[float, ...]:
        value = self.warn_at
        return tuple(sorted(value)) if isinstance(value, list) else (
            () if value is None else (value,))


class Escalate(_Model):
    reassign_times: NonNegativeInt = 0
    then: Destination | None = None


class Sla(_Model):
    hot: SlaTier | None = None
    warm: SlaTier | None = None
    cold: SlaTier | None = None
    escalate: Escalate | None = None

    def tier(self, temperature: str) -> SlaTier | None:
        return {"hot": self.hot, "warm": self.warm, "cold": self.cold}.get(temperature)


# --- scoring ---------------------------------------------------------------------------

class ScoringRule(_Conditional):
    """A rule adding `points` when `when` holds.

    A fit rule (about who the lead is) counts once. A behaviour rule (about what the lead
    did: its `when` refers to `activities`, or `kind: behaviour`) is backed by activities of
    one type, `activity` or the type its `when` names with `activities.type` eq/contains;
    without a type, by any activity. It counts once, or once per activity with
    `per_activity`, or once when `at_least` activities fall within one `within` window;
    `max` caps the rule's total (in magnitude, for negative points).
    """

    name: Name
    points: StrictInt
    per_activity: bool = False
    max: PositiveInt | None = None
    activity: str | None = None
    within: PositiveDuration | None = None
    at_least: PositiveInt | None = None
    kind: Literal["fit", "behaviour"] | None = None  # None in the file: inferred

    @model_validator(mode="after")
    def _resolve(self) -> ScoringRule:
        about_activities = any(
            f == "activities" or f.startswith("activities.") for f in condition_fields(self.when)
        )
        counts_activities = self.per_activity or self.within is not None
        if self.kind is None:
            behaviour = about_activities or counts_activities or self.activity is not None
            self.kind = "behaviour" if behaviour else "fit"
        elif self.kind == "fit" and (counts_activities or self.activity is not None):
            raise OrgError("kind", "a fit rule cannot count activities "
                                   "(per_activity, within, activity)")
        if self.per_activity and self.within is not None:
            raise OrgError("within", "per_activity and within cannot be combined")
        if (self.within is None) != (self.at_least is None):
            raise OrgError("within" if self.within is None else "at_least",
                           "within and at_least go together")
        if self.activity is None and self.kind == "behaviour":
            self.activity = _activity_named_in(self.when)
        if counts_activities and self.activity is None:
            raise OrgError("activity", "which activity to count? set `activity`, or put "
                                       "{activities.type: {contains: TYPE}} in `when`")
        return self


def _activity_named_in(when: dict[str, Any]) -> str | None:
    spec = when.get("activities.type")
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        for op in ("contains", "eq"):
            if isinstance(spec.get(op), str):
                return str(spec[op])
    return None


class Threshold(_Model):
    points_at_least: StrictInt
    or_any_activity: list[str] = Field(default_factory=list)


class Temperature(_Model):
    hot: Threshold
    warm: Threshold

    @model_validator(mode="after")
    def _ordered(self) -> Temperature:
        if self.warm.points_at_least > self.hot.points_at_least:
            raise OrgError("warm.points_at_least",
                           f"{self.warm.points_at_least} is above hot.points_at_least "
                           f"({self.hot.points_at_least}): warm would never be reached")
        return self


class Decay(_Model):
    behaviour_half_life: PositiveDuration


class Scoring(_Model):
    mql_at: NonNegativeInt
    temperature: Temperature
    rules: list[ScoringRule]
    decay: Decay | None = None

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[ScoringRule]) -> list[ScoringRule]:
        _check_unique_names(value)
        return value

    @property
    def fit_rules(self) -> list[ScoringRule]:
        return [r for r in self.rules if r.kind == "fit"]

    @property
    def behaviour_rules(self) -> list[ScoringRule]:
        return [r for r in self.rules if r.kind == "behaviour"]


# --- sources ---------------------------------------------------------------------------

# What a sender's field can be mapped to (`sources.*.fields`, `sources.imports[].columns`):
# the flat names `POST /v1/leads` accepts, `consent` (a checkbox: checked means marketing
# consent), `custom.<name>` (kept under the lead's `custom`), or `ignore` (dropped).
FIELD_TARGETS = frozenset((
    "email", "phone", "first_name", "last_name", "full_name", "company", "job_title",
    "website", "country", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "referrer", "landing_page", "form_id", "campaign_id", "ad_id",
    "consent", "ignore",
))
WEBHOOK_PROVIDERS = ("facebook", "google_ads", "linkedin", "typeform", "hubspot", "webflow",
                     "unbounce")
_SOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ORIGIN = re.compile(r"https?://[^/\s?#]+")


def _check_targets(value: dict[str, str]) -> dict[str, str]:
    for name, target in value.items():
        if not isinstance(target, str) or not (
                target in FIELD_TARGETS or (target.startswith("custom.") and len(target) > 7)):
            raise ValueError(
                f"{name!r} maps to {target!r}, which is not a lead field; use one of "
                f"{', '.join(sorted(FIELD_TARGETS))} or custom.<name>")
    return value


def _check_defaults(value: dict[str, str]) -> dict[str, str]:
    for target in value:
        if target in ("consent", "ignore") or (target not in FIELD_TARGETS and not (
                target.startswith("custom.") and len(target) > 7)):
            raise ValueError(f"{target!r} is not a lead field a default can set")
    return value


FieldMap = Annotated[dict[str, str], AfterValidator(_check_targets)]
Defaults = Annotated[dict[str, str], AfterValidator(_check_defaults)]


def _source_id(value: str) -> str:
    if not _SOURCE_ID.fullmatch(value):
        raise ValueError(f"{value!r} must be 1-128 letters, digits, '_', '-' or '.'")
    return value


SourceId = Annotated[str, AfterValidator(_source_id)]


class _Mapped(_Model):
    fields: FieldMap = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=dict)
    consent_text: str | None = None


class WebhookForm(_Mapped):
    """One form of a webhook provider, by the provider's own form id."""

    id: Name


class WebhookSource(_Mapped):
    """A provider's mapping for all its forms, and per form (which wins)."""

    forms: list[WebhookForm] = Field(default_factory=list)

    def form(self, form_id: str | None) -> WebhookForm | None:
        return next((f for f in self.forms if f.id == form_id), None) if form_id else None


class FormSource(_Mapped):
    """A plain HTML form posting to `POST /v1/forms/{id}`."""

    id: SourceId
    thank_you: str | None = None  # browsers are sent here (303) after a submission
    allowed_origins: list[str] = Field(default_factory=list)
    honeypot: str | None = None  # a hidden field people leave empty and bots fill

    @field_validator("thank_you")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.example.com "
                                 "(scheme and host, no path) or '*'")
        return [o.lower() for o in value]


class ImportSource(_Mapped):
    """A CSV layout for `POST /v1/imports?source={id}`: `columns` maps the CSV's headers."""

    id: SourceId
    columns: FieldMap = Field(default_factory=dict)
    channel: Literal["import", "event", "web_form", "ad_platform", "api"] = "import"


class Sources(_Model):
    forms: list[FormSource] = Field(default_factory=list)
    imports: list[ImportSource] = Field(default_factory=list)
    webhooks: dict[Literal[WEBHOOK_PROVIDERS], WebhookSource] = Field(  # type: ignore[valid-type]
        default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> Sources:
        for section in ("forms", "imports"):
            seen: dict[str, int] = {}
            for i, item in enumerate(getattr(self, section)):
                if item.id in seen:
                    raise OrgError(f"{section}[{i}].id",
                                   f"{item.id!r} is already defined at {section}[{seen[item.id]}]")
                seen[item.id] = i
        return self

    def form(self, form_id: str) -> FormSource | None:
        return next((f for f in self.forms if f.id == form_id), None)

    def import_(self, source_id: str) -> ImportSource | None:
        return next((f for f in self.imports if f.id == source_id), None)


# --- the file --------------------------------------------------------------------------

class OrgFile(_Model):
    scoring: Scoring
    teams: list[Team] = Field(default_factory=list)
    routing: Routing
    sla: Sla = Field(default_factory=Sla)
    sources: Sources = Field(default_factory=Sources)

    _teams: dict[str, Team] = PrivateAttr(default_factory=dict)
    _reps: dict[str, Rep] = PrivateAttr(default_factory=dict)
    _rep_team: dict[str, Team] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> OrgFile:
        teams: dict[str, int] = {}
        reps: dict[str, str] = {}
        for i, team in enumerate(self.teams):
            if team.id in teams:
                raise OrgError(f"teams[{i}].id",
                               f"team {team.id!r} is already defined at teams[{teams[team.id]}]")
            teams[team.id] = i
            for j, rep in enumerate(team.reps):
                where = f"teams[{i}].reps[{j}]"
                if rep.id in reps:
                    raise OrgError(f"{where}.id",
                                   f"rep {rep.id!r} is already defined at {reps[rep.id]}")
                reps[rep.id] = where
        destinations = [(f"routing.rules[{i}].to", r.to) for i, r in enumerate(self.routing.rules)]
        if self.sla.escalate is not None and self.sla.escalate.then is not None:
            destinations.append(("sla.escalate.then", self.sla.escalate.then))
        for path, dest in destinations:
            if dest.team is not None and dest.team not in teams:
                raise OrgError(f"{path}.team", f"no team {dest.team!r} in teams")
            if dest.rep is not None and dest.rep not in reps:
                raise OrgError(f"{path}.rep", f"no rep {dest.rep!r} in any team")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._teams = {t.id: t for t in self.teams}
        self._reps = {r.id: r for t in self.teams for r in t.reps}
        self._rep_team = {r.id: t for t in self.teams for r in t.reps}

    def team(self, team_id: str) -> Team | None:
        return self.__pydantic_private__["_teams"].get(team_id)  # type: ignore[index]

    def rep(self, rep_id: str) -> Rep | None:
        return self.__pydantic_private__["_reps"].get(rep_id)  # type: ignore[index]

    def team_of(self, rep_id: str) -> Team | None:
        """The team a rep belongs to."""
        return self.__pydantic_private__["_rep_team"].get(rep_id)  # type: ignore[index]

    # cached_property keeps the value in the instance dict: read per lead, it must not go
    # through pydantic's private-attribute lookup.
    @cached_property
    def version(self) -> str:
        """First 12 hex digits of the SHA-256 of the whole parsed file, canonical JSON."""
        return _digest(self.model_dump(mode="json", by_alias=True))

    @cached_property
    def scoring_version(self) -> str:
        """As `version`, over the scoring section only: the score's `model`."""
        return _digest(self.scoring.model_dump(mode="json", by_alias=True))


def _digest(document: Any) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


# --- reading ---------------------------------------------------------------------------

class _OrgLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key_node.value!r} is given twice",
                        key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"
_OrgLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_OrgLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_org(text: str, filename: str = "org.yaml") -> OrgFile:
    """Parse and validate an org file; raise OrgError naming file, path and problem."""
    try:
        data = yaml.load(text, Loader=_OrgLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise OrgError(where, f"not valid YAML: {problem}", filename) from None
    if data is None:
        raise OrgError("", "the file is empty", filename)
    if not isinstance(data, dict):
        raise OrgError("", "must be a mapping with scoring, teams, routing and sla", filename)
    try:
        return OrgFile.model_validate(data)
    except ValidationError as exc:
        raise _org_error(exc, filename) from None


def load_org_file(path: str | Path) -> OrgFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OrgError("", f"cannot read: {exc.strerror or exc}", str(path)) from None
    return load_org(text, str(path))


def _org_error(exc: ValidationError, filename: str) -> OrgError:
    errors: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, OrgError):
            errors.extend((join_path(path, sub), problem) for sub, problem in cause.errors)
        else:
            errors.append((path, _problem(err, loc, cause)))
    first_path, first_problem = errors[0]
    return OrgError(first_path, first_problem, filename, errors)


_PROBLEMS = {
    "missing": "is required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_type": "must be a date like 2024-07-01",
    "date_parsing": "must be a date like 2024-07-01",
    "date_from_datetime_parsing": "must be a date like 2024-07-01",
}


def _problem(err: Any, loc: tuple[Any, ...], cause: Any) -> str:
    kind = err["type"]
    if kind == "value_error" and cause is not None:
        return str(cause)
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}"
    if kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        return "unknown key" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    return _PROBLEMS.get(kind, str(err["msg"]))


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc` accepts, for the hint on an unknown key."""
    tp: Any = OrgFile
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int) and typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp
