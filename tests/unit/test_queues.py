"""Queues, the pure parts: the order a queue is dealt in, who can be dealt a waiting lead
now, dealing through each strategy, why a lead could be dealt, the SLA start of a dealt
lead, and the org file's `queues:` section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.route.assignments import with_sla
from services.route.queues import (
    Dealt,
    Waiting,
    can_deal,
    deal,
    dealt_assignment,
    order_key,
    wait_record,
    why_now,
)
from services.route.routing import Availability, Rotation
from shared.org import OrgError, Team
from tests.builders import make_lead, make_org, rep, rule, team

T0 = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # a Wednesday, 09:00 in New York


def waiting(name: str, minutes: int = 0, temperature: str | None = None,
            points: int | None = None) -> Waiting:
    return Waiting(name, 1, "q", T0 - timedelta(minutes=minutes), temperature, points)


def the_team(*reps: Any, **fields: Any) -> Team:
    org = make_org(teams=[team("t", *reps, **fields)],
                   routing={"rules": [rule("all", {"team": "t"})]})
    found = org.team("t")
    assert found is not None
    return found


@pytest.mark.parametrize(("order", "leads", "expected"), [
    pytest.param("oldest", [waiting("b", 5), waiting("a", 10), waiting("c", 1)],
                 ["a", "b", "c"], id="oldest-first"),
    pytest.param("oldest", [waiting("b", 5), waiting("a", 5)], ["a", "b"], id="ties-by-id"),
    pytest.param("hottest", [waiting("cold", 60, "cold", 10), waiting("hot", 1, "hot", 80),
                             waiting("warm", 30, "warm", 40)],
                 ["hot", "warm", "cold"], id="temperature-first"),
    pytest.param("hottest", [waiting("h70", 60, "hot", 70), waiting("h90", 1, "hot", 90)],
                 ["h90", "h70"], id="then-points"),
    pytest.param("hottest", [waiting("new", 1, "hot", 80), waiting("old", 60, "hot", 80)],
                 ["old", "new"], id="then-age"),
    pytest.param("hottest", [waiting("none", 90), waiting("cold", 1, "cold", 0)],
                 ["cold", "none"], id="unscored-last"),
])
def test_a_queue_is_dealt_in_its_order(order: str, leads: list[Waiting],
                                       expected: list[str]) -> None:
    assert [w.lead_id for w in sorted(leads, key=lambda w: order_key(w, order))] == expected


@pytest.mark.parametrize(("reps", "fields", "avail", "now", "expected"), [
    pytest.param(["ana"], {}, Availability(), T0, True, id="open-team"),
    pytest.param(["ana"], {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-18:00"}},
                 Availability(), T0 - timedelta(minutes=1), False, id="before-opening"),
    pytest.param(["ana"], {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-18:00"}},
                 Availability(), T0, True, id="at-opening"),
    pytest.param(["ana", "ben"], {}, Availability(frozenset({"ana", "ben"})), T0, False,
                 id="all-out-of-office"),
    pytest.param(["ana", "ben"], {}, Availability(frozenset({"ana"})), T0, True,
                 id="one-back"),
    pytest.param([rep("ana", capacity=2)], {}, Availability(open_counts={"ana": 2}), T0, False,
                 id="at-capacity"),
    pytest.param([rep("ana", leave=[{"from": "2026-12-01", "to": "2026-12-01"}])], {},
                 Availability(), T0, True, id="leave-ended-yesterday"),
    pytest.param([rep("ana", leave=[{"from": "2026-12-01", "to": "2026-12-02"}])], {},
                 Availability(), T0, False, id="on-leave-today"),
])
def test_who_can_be_dealt_a_queued_lead_now(reps: list[Any], fields: dict[str, Any],
                                            avail: Availability, now: datetime,
                                            expected: bool) -> None:
    assert can_deal(the_team(*reps, **fields), avail, now) is expected


def test_dealing_takes_turns_through_round_robin_from_where_the_rotation_stood() -> None:
    t = the_team("ana", "ben", "cy")
    result = deal(t, Rotation("t", "ana"), Availability(), T0,
                  [waiting(f"l{i}", 10 - i) for i in range(5)], "oldest", {})
    assert [d.rep_id for d in result.dealt] == ["ben", "cy", "ana", "ben", "cy"]
    assert result.rotation is not None and result.rotation.last_rep_id == "cy"
    assert not result.exhausted


def test_dealing_keeps_weighted_shares() -> None:
    t = the_team(rep("ana", weight=3), rep("ben", weight=1), strategy="weighted")
    result = deal(t, Rotation("t"), Availability(), T0,
                  [waiting(f"l{i}", 10 - i) for i in range(8)], "oldest", {})
    counts = {r: sum(1 for d in result.dealt if d.rep_id == r) for r in ("ana", "ben")}
    assert counts == {"ana": 6, "ben": 2}


def test_dealing_stops_when_everyone_is_at_capacity_and_least_loaded_evens_out() -> None:
    t = the_team(rep("ana", capacity=2), rep("ben", capacity=2), strategy="least_loaded")
    avail = Availability(open_counts={"ana": 1})
    result = deal(t, Rotation("t"), avail, T0, [waiting(f"l{i}", 10 - i) for i in range(6)],
                  "oldest", {})
    assert sorted(d.rep_id for d in result.dealt) == ["ana", "ben", "ben"]
    assert result.exhausted and avail.open_counts == {"ana": 2, "ben": 2}


def test_a_lead_only_its_former_reps_could_take_stays_queued_and_does_not_block_the_rest() -> None:
    t = the_team("ana", "ben")
    result = deal(t, Rotation("t"), Availability(frozenset({"ben"})), T0,
                  [waiting("had-ana", 10), waiting("fresh", 5)], "oldest",
                  {"had-ana": frozenset({"ana"})})
    assert result.skipped == ["had-ana"]
    assert [(d.waiting.lead_id, d.rep_id) for d in result.dealt] == [("fresh", "ana")]


@pytest.mark.parametrize(("then", "summary"), [
    ("off_hours", "the team is open"),
    ("out_of_office", "the rep is back"),
    ("on_leave", "the rep's leave ended"),
    ("at_capacity", "the rep has capacity again"),
    (None, "a rep of the team working the queue is eligible"),
])
def test_the_record_says_why_a_lead_could_be_dealt_now(then: str | None, summary: str) -> None:
    previous = {"candidates": [{"rep_id": "ben", "passed_over": "not_their_turn"}]
                + ([{"rep_id": "ana", "passed_over": then}] if then else [])}
    assert why_now(previous, "ana") == {"rep_id": "ana", "then": then, "now": "eligible",
                                        "summary": summary}


def test_the_wait_record_says_how_long_and_in_which_queue() -> None:
    t = the_team("ana")
    record = wait_record(waiting("l", 600), T0, None, "ana", t)
    assert record["waited_s"] == 36000.0 and record["queue"] == "q"
    assert record["queued_at"] == (T0 - timedelta(hours=10)).isoformat()


@pytest.mark.parametrize(("tier", "start", "due"), [
    pytest.param({"within": "5m", "clock": "always"}, T0, T0 + timedelta(minutes=5),
                 id="always-from-the-deal"),
    pytest.param({"within": "4h", "clock": "business"}, T0, T0 + timedelta(hours=4),
                 id="business-from-the-opening"),
    pytest.param({"within": "4h", "clock": "business"}, T0 + timedelta(hours=7),
                 T0 + timedelta(days=1, hours=2), id="business-across-the-close"),
])
def test_a_dealt_leads_clock_starts_when_it_is_dealt(tier: dict[str, str], start: datetime,
                                                     due: datetime) -> None:
    org = make_org(teams=[team("t", "ana", timezone="America/New_York",
                               hours={"mon-fri": "09:00-18:00"})],
                   routing={"rules": [rule("all", {"team": "t"})]}, sla={"hot": tier})
    t = org.team("t")
    assert t is not None
    lead = make_lead(score={"points": 90, "temperature": "hot"})
    assignment = dealt_assignment(t, Dealt(waiting("l", 600), "ana", []))
    timer = with_sla(assignment, lead, org, start)  # type: ignore[arg-type]
    assert timer is not None and timer.started_at == start and timer.due_at == due
    assert assignment["attempt"] == 2 and assignment["reason"] == "dealt_from_queue"


def test_a_queue_worked_by_a_team_is_dealt_by_it_and_a_fallback_queue_by_its_own_team() -> None:
    org = make_org(teams=[team("ent", "ana"), team("mgr", "max")],
                   routing={"rules": [rule("all", {"team": "ent"})]},
                   queues=[{"id": "sales-managers", "worked_by": [{"team": "mgr"}]},
                           {"id": "vip", "worked_by": {"reps": ["ana"]}}])
    mgr, ent = org.team("mgr"), org.team("ent")
    assert org.dealer("sales-managers", "ent") is mgr
    assert org.dealer("ent-unassigned", "ent") is ent
    assert org.dealer("ent-unassigned", None) is None
    assert org.dealer("vip", "ent") is None  # named reps claim it by hand
    assert org.dealer("partner-desk", "ent") is None
    assert org.known_queues()[:4] == ["ent-unassigned", "mgr-unassigned", "sales-managers",
                                      "vip"]


@pytest.mark.parametrize(("queues", "message"), [
    pytest.param([{"id": "q", "worked_by": {"team": "zz"}}],
                 "queues[0].worked_by.team: no team 'zz' in teams", id="unknown-team"),
    pytest.param([{"id": "q", "worked_by": {"reps": ["ana", "zed"]}}],
                 "queues[0].worked_by.reps[1]: no rep 'zed' in any team", id="unknown-rep"),
    pytest.param([{"id": "q", "worked_by": {"team": "ent"}},
                  {"id": "q", "worked_by": {"team": "ent"}}],
                 "queues[1].id: queue 'q' is already defined at queues[0]", id="twice"),
    pytest.param([{"id": "q", "worked_by": {"team": "ent", "reps": ["ana"]}}],
                 "exactly one of team or reps", id="both"),
    pytest.param([{"id": "q", "worked_by": {"reps": []}}], "at least one rep", id="no-reps"),
    pytest.param([{"id": "q", "worked_by": {"team": "ent"}, "queue_order": "random"}],
                 "queues[0].queue_order", id="bad-order"),
])
def test_the_queues_section_is_validated(queues: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(OrgError) as caught:
        make_org(teams=[team("ent", "ana")], routing={"rules": [rule("all", {"team": "ent"})]},
                 queues=queues)
    assert message in str(caught.value)


def test_a_teams_queue_order_is_oldest_unless_it_says_hottest() -> None:
    org = make_org(teams=[team("a", "x"), team("b", "y", queue_order="hottest")],
                   routing={"rules": [rule("all", {"team": "a"})]},
                   queues=[{"id": "q", "worked_by": {"team": "a"}, "queue_order": "hottest"}])
    a, b = org.team("a"), org.team("b")
    assert a is not None and b is not None
    assert (org.queue_order("a-unassigned", a), org.queue_order("b-unassigned", b),
            org.queue_order("q", a)) == ("oldest", "hottest", "hottest")
    with pytest.raises(OrgError, match=r"teams\[0\]\.queue_order"):
        make_org(teams=[team("a", "x", queue_order="newest")],
                 routing={"rules": [rule("all", {"team": "a"})]})
