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


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)
