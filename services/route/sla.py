"""SLA decisions: when a routed lead is due, when to warn, whether a touch met the SLA,
and what happens when an assignment lapses (DESIGN.md sections 4 and 6).

An SLA runs on one of two clocks: `always` counts every second, `business` counts only
the team's open time (its `BusinessCalendar`). When an assignment runs out untouched the
lead is reassigned `reassign_times` times, then escalated to the org file's `then` target.
Pure: every instant, including `now`, is passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.route.routing import Availability, Rotation, choose_rep, fallback_queue
from shared.calendar import BusinessCalendar
from shared.lead import AssignmentData
from shared.org import OrgFile

__all__ = [
    "Clock",
    "Escalation",
    "SlaOutcome",
    "after_breach",
    "decide_escalation",
    "escalation_assignment",
    "is_due",
    "sla_deadline",
    "sla_outcome",
    "warning_times",
]

Clock = Literal["always", "business"]
Escalation = Literal["reassign", "escalate"]
SlaOutcome = Literal["met", "breached"]


def sla_deadline(
    start: datetime, within: timedelta, clock: Clock, calendar: BusinessCalendar
) -> datetime:
    """The instant (UTC) by which a lead assigned at `start` must be touched.

    `always`: `start + within` in real elapsed time. `business`: `within` of the
    calendar's open time, so a lead arriving after hours is due `within` after the next
    opening.
    """
    start = _as_utc(start, "start")
    if within < timedelta(0):
        raise ValueError(f"within must not be negative, got {within}")
    if clock == "always":
        return start + within
    if clock == "business":
        return calendar.add_business_time(start, within)
    raise ValueError(f"unknown SLA clock {clock!r}; use 'always' or 'business'")


def warning_times(
    start: datetime, within: timedelta, clock: Clock, calendar: BusinessCalendar,
    fractions: Sequence[float],
) -> list[datetime]:
    """When to send each `sla.warning`: at each fraction of the time allowed, on the SLA's
    own clock (0.5 of a 4-hour business SLA is 2 business hours after `start`), in order.
    """
    for fraction in fractions:
        if not 0 < fraction < 1:
            raise ValueError(f"warning fraction must be between 0 and 1 (exclusive), "
                             f"got {fraction}")
    return sorted(sla_deadline(start, within * fraction, clock, calendar)
                  for fraction in fractions)


def is_due(due_at: datetime, now: datetime) -> bool:
    """Whether a timer due at `due_at` should fire at `now` (due instant included)."""
    return _as_utc(due_at, "due_at") <= _as_utc(now, "now")


def sla_outcome(due_at: datetime, touched_at: datetime) -> SlaOutcome:
    """`met` when the first touch came at or before the deadline, else `breached`."""
    return "met" if _as_utc(touched_at, "touched_at") <= _as_utc(due_at, "due_at") else "breached"


def decide_escalation(attempt: int, reassign_times: int) -> Escalation:
    """What to do when assignment `attempt` (1 for the first) lapsed untouched.

    Reassign while `attempt <= reassign_times`, then escalate: with `reassign_times: 2`
    attempts 1 and 2 lapse into a reassignment, attempt 3 into an escalation. What an
    org file without an `escalate` section means is the caller's choice, not this one's.
    """
    if attempt < 1:
        raise ValueError(f"attempt starts at 1, got {attempt}")
    if reassign_times < 0:
        raise ValueError(f"reassign_times must not be negative, got {reassign_times}")
    return "reassign" if attempt <= reassign_times else "escalate"


def escalation_assignment(org: OrgFile, attempt: int, team_id: str) -> AssignmentData:
    """Where an escalated lead goes: the org file's `escalate.then` (a queue or a nurture
    track), else the team's fallback queue."""
    then = org.sla.escalate.then if org.sla.escalate else None
    if then is not None and then.kind == "nurture":
        return {"kind": "nurture", "track": then.nurture, "attempt": attempt,
                "reason": "sla_escalated"}
    queue = (then.queue if then is not None and then.kind == "queue"
             else fallback_queue(org.team(team_id), team_id))
    return {"kind": "queue", "queue": queue, "team_id": team_id, "attempt": attempt,
            "reason": "sla_escalated"}


def after_breach(org: OrgFile, team_id: str, attempt: int, rotations: dict[str, Rotation],
                 avail: Availability, tried: frozenset[str], now: datetime
                 ) -> tuple[AssignmentData | None, Rotation | None, list[dict[str, Any]]]:
    """The next assignment once assignment `attempt` of a lead in `team_id` lapsed: the
    team's next eligible rep who has not had the lead (`tried`), or the escalation
    destination once `reassign_times` is used up or nobody is eligible. None when the org
    file has no `escalate` section: the breach is reported and the rep keeps the lead.
    Returns (assignment, the team's new rotation if a rep took a turn, candidates)."""
    escalate = org.sla.escalate
    if escalate is None:
        return None, None, []
    team = org.team(team_id)
    if decide_escalation(attempt, escalate.reassign_times) == "escalate" or team is None:
        return escalation_assignment(org, attempt + 1, team_id), None, []
    rotation = rotations.get(team.id) or Rotation(team.id)
    rep, new_rotation, candidates = choose_rep(team, rotation, avail, now, tried)
    if rep is None:
        return escalation_assignment(org, attempt + 1, team.id), None, candidates
    return ({"kind": "rep", "rep_id": rep.id, "team_id": team.id, "attempt": attempt + 1,
             "reason": "sla_reassigned", "strategy": team.strategy}, new_rotation, candidates)


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)
