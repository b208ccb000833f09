"""SLA decisions: when a routed lead is due, when to warn, whether a touch met the SLA,
and what happens when an assignment lapses (DESIGN.md sections 4 and 6).

An SLA runs on one of two clocks: `always` counts every second, `business` counts only
the team's open time (its `BusinessCalendar`). When an assignment runs out untouched the
lead is reassigned `reassign_times` times, then escalated to the org file's `then` target.
Pure: every instant, including `now`, is passed in by the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from shared.calendar import BusinessCalendar

__all__ = [
    "Clock",
    "Escalation",
    "SlaOutcome",
    "decide_escalation",
    "is_due",
    "sla_deadline",
    "sla_outcome",
    "warning_at",
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


def warning_at(start: datetime, deadline: datetime, fraction: float | None) -> datetime | None:
    """When to send `sla.warning`: `fraction` of the way from `start` to `deadline`
    (0.8 warns when 80 % of the time has gone), or None when no warning is configured.

    The fraction is of the elapsed real time between the two instants, also for a business
    clock, so a warning may fall in closed hours; that is when it is worth reading first.
    """
    if fraction is None:
        return None
    if not 0 < fraction < 1:
        raise ValueError(f"warning fraction must be between 0 and 1 (exclusive), got {fraction}")
    start, deadline = _as_utc(start, "start"), _as_utc(deadline, "deadline")
    if deadline < start:
        raise ValueError("deadline is before start")
    return start + (deadline - start) * fraction


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


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)
