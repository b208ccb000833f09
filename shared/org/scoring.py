"""The scoring model: fit and behaviour rules, temperatures, the MQL threshold and decay;
whether a rule is about fit or behaviour and which activity a per-activity rule counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from shared.conditions import (
    OrgError,
    condition_fields,
)
from shared.org.base import _check_unique_names, _Conditional, _Model
from shared.org.durations import Name, NonNegativeInt, PositiveDuration, PositiveInt

if TYPE_CHECKING:
    pass


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
