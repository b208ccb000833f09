"""Queues that drain themselves, pure: in which order a queue's waiting leads are dealt,
who can be dealt one now, and what the decision record says about the wait.

A lead waits in a queue when nobody who could take it was eligible (the team closed, its
reps out, on leave or at capacity), when an SLA escalation or a rejection sent it there,
or when a rule routes to the queue. A queue is dealt by a team (`OrgFile.dealer`): its
fallback queue, or a queue the org file says that team works. Dealing goes through the
team's own strategy (`routing.choose_rep`), so round robin, weighted and least-loaded
keep their fairness rules, one lead at a time in the queue's order:

- `oldest` (the default): first queued, first dealt;
- `hottest`: temperature (hot, warm, cold, none), then points (most first), then age.

A rep who already had the lead is not dealt it again; a lead that only such reps could
take stays queued (for someone to claim by hand) and the leads behind it are dealt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.route.routing import Availability, Rotation, choose_rep, rep_problem
from shared.lead import AssignmentData
from shared.org import Team

TEMPERATURE_RANK = {"hot": 0, "warm": 1, "cold": 2}

# What made a rep eligible, by why they were passed over when the lead was queued.
NOW_BECAUSE = {
    "off_hours": "the team is open",
    "out_of_office": "the rep is back",
    "on_leave": "the rep's leave ended",
    "at_capacity": "the rep has capacity again",
}


@dataclass(frozen=True)
class Waiting:
    """A lead waiting in a queue: its current attempt, since when it waits, and what the
    queue order reads."""

    lead_id: str
    attempt: int
    queue: str
    queued_at: datetime
    temperature: str | None = None
    points: int | None = None


def order_key(lead: Waiting, order: str) -> tuple[Any, ...]:
    """The sort key of a queue's order (`oldest` or `hottest`); ties go to the lead id."""
    if order == "hottest":
        return (TEMPERATURE_RANK.get(lead.temperature or "", 3), -(lead.points or 0),
                lead.queued_at, lead.lead_id)
    return (lead.queued_at, lead.lead_id)


def can_deal(team: Team, avail: Availability, now: datetime) -> bool:
    """Whether any rep of the team could be dealt a lead now (before taking its lock)."""
    return any(rep_problem(rep, team, avail, now, frozenset()) is None for rep in team.reps)


@dataclass
class Dealt:
    waiting: Waiting
    rep_id: str
    candidates: list[dict[str, Any]]


@dataclass
class Dealing:
    """What one dealing pass over a queue decided: the leads dealt (in order), the leads
    only reps who already had them could take (they stay queued), and the rotation."""

    dealt: list[Dealt] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rotation: Rotation | None = None
    exhausted: bool = False  # nobody in the team is eligible any more


def deal(team: Team, rotation: Rotation, avail: Availability, now: datetime,
         waiting: list[Waiting], order: str, tried: dict[str, frozenset[str]]) -> Dealing:
    """Deal `waiting` (any order; sorted here by `order`) to the team's reps through its
    strategy. `avail.open_counts` is updated as leads are dealt, so capacity caps and
    least_loaded see each new assignment; `tried` is each lead's reps so far."""
    result = Dealing(rotation=rotation)
    for lead in sorted(waiting, key=lambda w: order_key(w, order)):
        assert result.rotation is not None
        exclude = tried.get(lead.lead_id, frozenset())
        rep, new_rotation, candidates = choose_rep(team, result.rotation, avail, now, exclude)
        if rep is None:
            if not can_deal(team, avail, now):
                result.exhausted = True
                break
            result.skipped.append(lead.lead_id)  # only reps who had it are free
            continue
        result.rotation = new_rotation
        avail.open_counts[rep.id] = avail.open_counts.get(rep.id, 0) + 1
        result.dealt.append(Dealt(lead, rep.id, candidates))
    return result


def dealt_assignment(team: Team, dealt: Dealt) -> AssignmentData:
    return {"kind": "rep", "rep_id": dealt.rep_id, "team_id": team.id,
            "attempt": dealt.waiting.attempt + 1, "rule": None, "reason": "dealt_from_queue",
            "strategy": team.strategy}


def why_now(previous: dict[str, Any] | None, rep_id: str) -> dict[str, Any]:
    """Why the lead could be dealt to `rep_id` now, from the decision record that queued
    it: what held that rep back then (`then`: off_hours, out_of_office, …; None when the
    rep was not considered, as for a lead an escalation or a rule sent to the queue)."""
    then = None
    for c in (previous or {}).get("candidates") or []:
        if c.get("rep_id") == rep_id:
            then = c.get("passed_over")
    summary = NOW_BECAUSE.get(then or "", "a rep of the team working the queue is eligible")
    return {"rep_id": rep_id, "then": then, "now": "eligible", "summary": summary}


def wait_record(waiting: Waiting, now: datetime, previous: dict[str, Any] | None,
                rep_id: str, team: Team) -> dict[str, Any]:
    """The part of a dealt lead's decision record about its wait."""
    return {"cause": "queue_dealt", "queue": waiting.queue, "team_id": team.id,
            "queued_at": waiting.queued_at.isoformat(),
            "waited_s": round(max(0.0, (now - waiting.queued_at).total_seconds()), 3),
            "why_now": why_now(previous, rep_id)}
