"""How many points a lead is worth, and what that makes it: stage and temperature.

Pure: a function of the lead (a JSON-form dict), the org file's `scoring` section and an
injected `now`. The business rules, from DESIGN.md section 6 and the org file:

- A rule contributes only when its `when` holds for the lead.
- Fit rules (who the lead is) count their points once.
- Behaviour rules (what the lead did) are backed by activities of the rule's type and
  decay with the half-life by each activity's age at `now`: points × 0.5 ** (age /
  half_life); an activity dated after `now` counts as new. A plain rule counts once, aged
  by its most recent activity; `per_activity` sums every activity; `within`/`at_least`
  counts once when enough activities fall in one window, aged by the most recent activity
  that completed such a window. `max` caps a rule's total in magnitude.
- Each rule's total is rounded to a whole number, halves away from zero (12.5 -> 13), and
  the lead's points are the sum of those; reasons list the rules that gave non-zero
  points, in file order.
- Stage is mql at `mql_at` points or more. Temperature is hot at `hot.points_at_least`
  or when the lead has any activity in `hot.or_any_activity` (whatever its age), else
  warm by the same test against `warm`, else cold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared.lead import Reason, Score
from shared.org import Scoring, ScoringRule, Threshold

Temperature = Literal["hot", "warm", "cold"]


def score_lead(lead: Mapping[str, Any], scoring: Scoring, now: datetime, version: str) -> Score:
    """The lead's score at `now` under `scoring`; `version` becomes the score's `model`."""
    breakdown = score_breakdown(lead, scoring, now)
    points = breakdown["fit"] + breakdown["behaviour"]
    types = {a.get("type") for a in _activities(lead)}
    temperature: Temperature = (
        "hot" if _reaches(scoring.temperature.hot, points, types)
        else "warm" if _reaches(scoring.temperature.warm, points, types)
        else "cold"
    )
    return Score(
        points=points,
        fit=breakdown["fit"],
        behaviour=breakdown["behaviour"],
        temperature=temperature,
        stage="mql" if points >= scoring.mql_at else "lead",
        reasons=[Reason(rule=r["rule"], points=r["points"], kind=r["kind"])
                 for r in breakdown["reasons"]],
        model=version,
    )


def score_breakdown(lead: Mapping[str, Any], scoring: Scoring, now: datetime) -> dict[str, Any]:
    """`{"fit": int, "behaviour": int, "reasons": [{"rule", "points"}, ...]}` at `now`."""
    now = _utc(now)
    half_life = scoring.decay.behaviour_half_life if scoring.decay is not None else None
    history: _History | None = None
    fit = behaviour = 0
    reasons: list[dict[str, Any]] = []
    for rule in scoring.rules:
        if not rule.matches(lead):
            continue
        if rule.kind == "fit":
            points = _whole(_capped(rule, float(rule.points)))
            fit += points
        else:
            if history is None:
                history = _History(lead)
            points = _whole(_capped(rule, _behaviour_points(rule, history, now, half_life)))
            behaviour += points
        if points:
            reasons.append({"rule": rule.name, "points": points, "kind": rule.kind})
    return {"fit": fit, "behaviour": behaviour, "reasons": reasons}


def _behaviour_points(
    rule: ScoringRule, history: _History, now: datetime, half_life: timedelta | None
) -> float:
    times = history.of(rule.activity)

    def decayed(at: datetime) -> float:
        if half_life is None:
            return 1.0
        age = (now - at) / half_life
        return 0.5 ** age if age > 0 else 1.0

    if rule.per_activity:
        return rule.points * sum(decayed(at) for at in times)
    if rule.within is not None and rule.at_least is not None:
        burst = _latest_burst(times, rule.within, rule.at_least)
        return rule.points * decayed(burst) if burst is not None else 0.0
    if not times:
        # A rule about a type of activity needs one; a behaviour rule that holds without
        # any activity at all (kind: behaviour on other fields) has nothing to age by.
        return 0.0 if rule.activity is not None else float(rule.points)
    return rule.points * decayed(times[-1])


def _latest_burst(times: list[datetime], within: timedelta, at_least: int) -> datetime | None:
    """The latest activity that ends a window of `within` holding `at_least` activities
    (both ends included); `times` is sorted."""
    latest = None
    first = 0
    for last, at in enumerate(times):
        while at - times[first] > within:
            first += 1
        if last - first + 1 >= at_least:
            latest = at
    return latest


def _capped(rule: ScoringRule, points: float) -> float:
    if rule.max is None:
        return points
    return max(-rule.max, min(rule.max, points))


def _whole(points: float) -> int:
    # Halves away from zero, as people round: Python's round() would give 12 for 12.5.
    return int(math.copysign(math.floor(abs(points) + 0.5), points))


def _reaches(threshold: Threshold, points: int, types: set[Any]) -> bool:
    return points >= threshold.points_at_least or any(
        t in types for t in threshold.or_any_activity
    )


def _activities(lead: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return [a for a in lead.get("activities") or () if isinstance(a, Mapping)]


class _History:
    """A lead's activity times, parsed once per lead, sorted, by type."""

    __slots__ = ("_all", "_by_type")

    def __init__(self, lead: Mapping[str, Any]) -> None:
        self._by_type: dict[str, list[datetime]] = {}
        self._all: list[datetime] = []
        for i, activity in enumerate(_activities(lead)):
            at = _moment(activity.get("at"), f"activities[{i}].at")
            self._by_type.setdefault(str(activity.get("type")), []).append(at)
            self._all.append(at)
        for times in self._by_type.values():
            times.sort()
        self._all.sort()

    def of(self, activity_type: str | None) -> list[datetime]:
        """Sorted times of one type of activity, or of all activities for None."""
        if activity_type is None:
            return self._all
        return self._by_type.get(activity_type, [])


def _moment(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, str):
        try:
            return _utc(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError(f"{where}: {value!r} is not an RFC 3339 time")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
