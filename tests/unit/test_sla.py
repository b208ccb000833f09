"""SLA decisions: deadlines on either clock, warnings, outcomes and escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.route.routing import Availability
from services.route.sla import (
    after_breach,
    decide_escalation,
    escalation_assignment,
    is_due,
    sla_deadline,
    sla_outcome,
    warning_times,
)
from shared.calendar import BusinessCalendar, parse_hours
from tests.builders import NOW, make_org, rule, team

NEW_YORK = ZoneInfo("America/New_York")
US_OFFICE = BusinessCalendar("America/New_York", parse_hours({"mon-fri": "09:00-18:00"}), "US")


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("start", "within", "clock", "deadline"),
    [
        pytest.param(
            ny(2026, 9, 5, 12, 0),
            timedelta(minutes=5),
            "always",
            ny(2026, 9, 5, 12, 5),
            id="hot-always-clock-runs-on-saturday",
        ),
        pytest.param(
            ny(2026, 9, 4, 17, 30),
            timedelta(hours=4),
            "business",
            ny(2026, 9, 8, 12, 30),
            id="warm-friday-evening-skips-weekend-and-labor-day",
        ),
        pytest.param(
            ny(2026, 9, 4, 17, 30),
            timedelta(hours=24),
            "business",
            ny(2026, 9, 10, 14, 30),
            id="cold-24-business-hours",
        ),
        pytest.param(
            ny(2026, 3, 7, 23, 0),
            timedelta(hours=4),
            "always",
            ny(2026, 3, 8, 4, 0),
            id="always-clock-counts-real-time-over-spring-forward",
        ),
    ],
)
def test_deadline_follows_the_clock(start, within, clock, deadline):
    due = sla_deadline(start, within, clock, US_OFFICE)
    assert due == deadline
    assert due.tzinfo is UTC


@pytest.mark.parametrize(
    ("within", "clock", "message"),
    [
        pytest.param(timedelta(minutes=5), "sometimes", "unknown SLA clock", id="bad-clock"),
        pytest.param(timedelta(minutes=-5), "always", "negative", id="negative"),
    ],
)
def test_bad_sla_settings_are_value_errors(within, clock, message):
    with pytest.raises(ValueError, match=message):
        sla_deadline(ny(2026, 9, 4, 12), within, clock, US_OFFICE)


def test_deadline_needs_an_aware_start():
    with pytest.raises(ValueError, match="timezone-aware"):
        sla_deadline(datetime(2026, 9, 4, 12), timedelta(minutes=5), "always",  # noqa: DTZ001
                     US_OFFICE)


@pytest.mark.parametrize(
    ("start", "within", "clock", "fractions", "expected"),
    [
        pytest.param(ny(2026, 9, 4, 12, 0), timedelta(hours=1), "always", [0.8],
                     [ny(2026, 9, 4, 12, 48)], id="eighty-percent"),
        pytest.param(ny(2026, 9, 4, 12, 0), timedelta(hours=1), "always", [0.8, 0.5],
                     [ny(2026, 9, 4, 12, 30), ny(2026, 9, 4, 12, 48)],
                     id="two-reminders-in-order"),
        pytest.param(ny(2026, 9, 4, 17, 30), timedelta(hours=4), "business", [0.5],
                     [ny(2026, 9, 8, 10, 30)],
                     id="warm-friday-1730-before-labor-day-warns-tuesday-1030"),
        pytest.param(ny(2026, 9, 4, 17, 30), timedelta(hours=4), "business", [0.1],
                     [ny(2026, 9, 4, 17, 54)], id="reminder-still-on-friday"),
        pytest.param(ny(2026, 3, 6, 16, 0), timedelta(hours=4), "business", [0.75],
                     [ny(2026, 3, 9, 10, 0)], id="business-reminder-over-spring-forward"),
        pytest.param(ny(2026, 9, 4, 12, 0), timedelta(hours=1), "always", [],
                     [], id="no-warning-configured"),
    ],
)
def test_warnings_fall_at_fractions_of_the_time_allowed_on_the_sla_clock(
    start, within, clock, fractions, expected
):
    assert warning_times(start, within, clock, US_OFFICE, fractions) == expected


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2])
def test_warning_fraction_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ValueError, match="between 0 and 1"):
        warning_times(ny(2026, 9, 4, 12, 0), timedelta(hours=1), "always", US_OFFICE,
                      [fraction])


@pytest.mark.parametrize(
    ("touched_at", "outcome"),
    [
        pytest.param(ny(2026, 9, 4, 12, 4), "met", id="before"),
        pytest.param(ny(2026, 9, 4, 12, 5), "met", id="on-the-second"),
        pytest.param(ny(2026, 9, 4, 12, 6), "breached", id="after"),
    ],
)
def test_touch_by_the_deadline_meets_the_sla(touched_at, outcome):
    assert sla_outcome(ny(2026, 9, 4, 12, 5), touched_at) == outcome


@pytest.mark.parametrize(
    ("now", "due"),
    [
        pytest.param(ny(2026, 9, 4, 12, 4), False, id="early"),
        pytest.param(ny(2026, 9, 4, 12, 5), True, id="due-instant"),
        pytest.param(ny(2026, 9, 4, 12, 6), True, id="late"),
    ],
)
def test_timer_is_due_from_its_due_instant(now, due):
    assert is_due(ny(2026, 9, 4, 12, 5), now) is due


@pytest.mark.parametrize(
    ("attempt", "reassign_times", "decision"),
    [
        (1, 2, "reassign"),
        (2, 2, "reassign"),
        (3, 2, "escalate"),
        (7, 2, "escalate"),
        (1, 0, "escalate"),
        (1, 1, "reassign"),
        (2, 1, "escalate"),
    ],
)
def test_lapsed_assignment_is_reassigned_until_the_limit_then_escalated(
    attempt, reassign_times, decision
):
    assert decide_escalation(attempt, reassign_times) == decision


@pytest.mark.parametrize(("attempt", "reassign_times"), [(0, 2), (-1, 2), (1, -1)])
def test_impossible_escalation_inputs_are_refused(attempt, reassign_times):
    with pytest.raises(ValueError, match=r"attempt starts at 1|must not be negative"):
        decide_escalation(attempt, reassign_times)


# --------------------------------------------------------------------------- after a breach

ESCALATING = make_org(
    teams=[team("sales", "ana", "ben", fallback_queue="sales-overflow")],
    routing={"rules": [rule("all", {"team": "sales"})]},
    sla={"hot": {"within": "5m", "clock": "always"},
         "escalate": {"reassign_times": 1, "then": {"queue": "sales-managers"}}})


def test_a_lapsed_first_attempt_goes_to_the_next_rep_who_has_not_had_it() -> None:
    assignment, rotation, _ = after_breach(ESCALATING, "sales", 1, {}, Availability(),
                                           frozenset({"ana"}), NOW)
    assert assignment == {"kind": "rep", "rep_id": "ben", "team_id": "sales", "attempt": 2,
                          "reason": "sla_reassigned", "strategy": "round_robin"}
    assert rotation is not None and rotation.last_rep_id == "ben"


def test_reassignments_used_up_escalate_to_the_then_target() -> None:
    assignment, rotation, _ = after_breach(ESCALATING, "sales", 2, {}, Availability(),
                                           frozenset({"ana"}), NOW)
    assert assignment == {"kind": "queue", "queue": "sales-managers", "team_id": "sales",
                          "attempt": 3, "reason": "sla_escalated"}
    assert rotation is None


def test_nobody_left_to_try_escalates_too() -> None:
    assignment, _, candidates = after_breach(ESCALATING, "sales", 1, {}, Availability(),
                                             frozenset({"ana", "ben"}), NOW)
    assert assignment is not None and assignment["queue"] == "sales-managers"
    assert {c["rep_id"] for c in candidates} == {"ana", "ben"}


def test_without_a_then_target_an_escalation_waits_in_the_teams_fallback_queue() -> None:
    org = make_org(teams=[team("sales", "ana", fallback_queue="sales-overflow"), team("b", "cy")],
                   routing={"rules": [rule("all", {"team": "sales"})]},
                   sla={"hot": {"within": "5m", "clock": "always"},
                        "escalate": {"reassign_times": 0}})
    assert escalation_assignment(org, 2, "sales")["queue"] == "sales-overflow"
    assert escalation_assignment(org, 2, "b")["queue"] == "b-unassigned"
    assert escalation_assignment(org, 2, "gone")["queue"] == "gone-unassigned"


def test_without_an_escalate_section_the_rep_keeps_the_lead() -> None:
    org = make_org()
    assert after_breach(org, "sales", 1, {}, Availability(), frozenset(), NOW) == (None, None, [])
