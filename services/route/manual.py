"""Leads moved by hand: a rep claims a queued lead, a manager assigns any lead to a rep, a
team or a queue. Both are `lead.reassigned` (the next attempt) with a fresh SLA clock and
the team's `assigned` notification, like every other change of owner.

A claim and a manual assignment lock the lead's current state (`route.leads`), which
dealing claims with `SKIP LOCKED`: of two claims at once one wins, the other is refused
naming who holds the lead; a lead being dealt is not claimed, and the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.route import store
from services.route.assignments import (
    Observations,
    assigned,
    db_conflict,
    needs_load_counts,
    with_sla,
)
from services.route.notify import notification
from services.route.routing import Rotation, choose_rep, rep_problem
from shared.events import Outgoing
from shared.lead import AssignmentData, LeadData
from shared.org import OrgFile


class RefusedError(Exception):
    """A claim or assignment that cannot be made: an HTTP status, the field, the reason."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.field = status, reason, field


@dataclass
class Moved:
    status: str  # claimed | assigned | unchanged
    assignment: AssignmentData
    outgoing: list[Outgoing] = field(default_factory=list)
    waited: tuple[str, float] | None = None  # (queue, seconds) when it left a queue


def holder_phrase(current: store.Current) -> str:
    if current.kind == "rep":
        since = current.assigned_at.isoformat()
        return f"the lead is held by rep {current.rep_id!r} (since {since})"
    if current.kind == "nurture":
        return f"the lead is not in a queue: it is in nurture track {current.track!r}"
    return f"the lead waits in queue {current.queue!r}"


async def _current(conn: AsyncConnection, lead_id: str) -> tuple[LeadData, store.Current]:
    """The lead's current state, locked, then the lead as it stands (read after the lock,
    so a deal or a claim that committed meanwhile is what this one sees)."""
    current = await store.current_for_update(conn, lead_id)
    lead = await store.load_lead(conn, lead_id) if current is not None else None
    if lead is None or current is None:
        raise RefusedError(404, f"route has not seen lead {lead_id}", "lead_id")
    return lead, current


def _wait(current: store.Current, now: datetime) -> tuple[str, float] | None:
    if current.state != "queued" or current.queue is None:
        return None
    return current.queue, round(max(0.0, (now - current.assigned_at).total_seconds()), 3)


def _may_work(org: OrgFile, queue: str, rep_id: str) -> str | None:
    """Why `rep_id` may not take a lead from `queue`, or None: a queue the org file says
    who works is theirs; any other queue's leads any rep may claim."""
    entry = org.queue(queue)
    if entry is None:
        return None
    worked_by = entry.worked_by
    if worked_by.reps is not None and rep_id not in worked_by.reps:
        return f"queue {queue!r} is worked by reps {', '.join(worked_by.reps)}"
    team = org.team_of(rep_id)
    if worked_by.team is not None and (team is None or team.id != worked_by.team):
        return f"queue {queue!r} is worked by team {worked_by.team!r}"
    return None


async def claim_lead(conn: AsyncConnection, org: OrgFile, lead_id: str, rep_id: str,
                     now: datetime, obs: Observations) -> Moved:
    rep, team = org.rep(rep_id), org.team_of(rep_id)
    if rep is None or team is None:
        raise RefusedError(422, f"no rep {rep_id!r} in the org file", "rep_id")
    lead, current = await _current(conn, lead_id)
    if current.state != "queued":
        raise RefusedError(409, holder_phrase(current), "lead_id")
    assert current.queue is not None  # a queued lead has its queue
    refusal = _may_work(org, current.queue, rep_id)
    if refusal is not None:
        raise RefusedError(403, refusal, "rep_id")
    assignment: AssignmentData = {"kind": "rep", "rep_id": rep.id, "team_id": team.id,
                                  "attempt": current.attempt + 1, "rule": None,
                                  "reason": "claimed", "strategy": "claimed"}
    waited = _wait(current, now)
    record = {"cause": "claimed", "rep_id": rep.id, "queue": current.queue,
              "queued_at": current.assigned_at.isoformat(),
              "waited_s": waited[1] if waited else None}
    return await _write(conn, org, lead, assignment, now, record, "claimed", obs, waited,
                        "claimed")


async def assign_lead(conn: AsyncConnection, org: OrgFile, lead_id: str, *,
                      rep_id: str | None, team_id: str | None, queue: str | None,
                      reason: str, now: datetime, obs: Observations) -> Moved:
    """A manager's override: to a named rep (even one not eligible now, which the record
    notes), through a team's strategy (its fallback queue when nobody is eligible), or
    into a queue. Assigning a lead where it already is changes nothing."""
    # Locks in route's one order: the team's rotation, the lead, then its clocks.
    rotations: dict[str, Rotation] = {}
    team = None
    if team_id is not None:
        team = org.team(team_id)
        if team is None:
            raise RefusedError(422, f"no team {team_id!r} in the org file", "team_id")
        rotations = await store.lock_rotations(conn, [team.id])
    target_rep = org.rep(rep_id) if rep_id is not None else None
    if rep_id is not None and target_rep is None:
        raise RefusedError(422, f"no rep {rep_id!r} in the org file", "rep_id")
    lead, current = await _current(conn, lead_id)
    base: AssignmentData = {"attempt": current.attempt + 1, "rule": None, "reason": "manual"}
    record: dict[str, Any] = {"cause": "manual", "reason": reason}
    if target_rep is not None:
        if current.kind == "rep" and current.rep_id == target_rep.id:
            return Moved("unchanged", lead.get("assignment") or {})
        rep_team = org.team_of(target_rep.id)
        assert rep_team is not None
        avail = await store.load_availability(conn)
        record["rep_problem"] = rep_problem(target_rep, rep_team, avail, now, frozenset())
        assignment: AssignmentData = {**base, "kind": "rep", "rep_id": target_rep.id,
                                      "team_id": rep_team.id, "strategy": "manual"}
    elif team is not None:
        if current.kind == "queue" and current.queue == team.queue and current.team_id == team.id:
            return Moved("unchanged", lead.get("assignment") or {})
        avail = await store.load_availability(conn, counts_needed=needs_load_counts(org))
        exclude = frozenset({current.rep_id}) if current.rep_id else frozenset()
        chosen, rotation, candidates = choose_rep(team, rotations.get(team.id)
                                                  or Rotation(team.id), avail, now, exclude)
        record["candidates"] = candidates
        if chosen is not None:
            await store.save_rotations(conn, [rotation])
            assignment = {**base, "kind": "rep", "rep_id": chosen.id, "team_id": team.id,
                          "strategy": team.strategy}
        else:
            assignment = {**base, "kind": "queue", "queue": team.queue, "team_id": team.id,
                          "strategy": team.strategy}
    else:
        assert queue is not None
        if queue not in org.known_queues():
            raise RefusedError(422, f"no queue {queue!r} in the org file (a team's fallback "
                               "queue, a queues: entry, or a rule's, rejection's or "
                               "escalation's queue)", "queue")
        if current.kind == "queue" and current.queue == queue:
            return Moved("unchanged", lead.get("assignment") or {})
        owners = [t for t in org.teams if t.queue == queue]
        assignment = {**base, "kind": "queue", "queue": queue}
        if len(owners) == 1:
            assignment["team_id"] = owners[0].id  # its fallback queue: dealt to that team
    await store.supersede_open_timers(conn, lead_id, current.attempt, now)
    return await _write(conn, org, lead, assignment, now, record, "assigned_by_hand", obs,
                        _wait(current, now), "assigned")


async def _write(conn: AsyncConnection, org: OrgFile, lead: LeadData,
                 assignment: AssignmentData, now: datetime, record: dict[str, Any], step: str,
                 obs: Observations, waited: tuple[str, float] | None, status: str) -> Moved:
    """Record the new assignment (a fresh SLA clock from `now`), its journey step and the
    team's notification; returns the event to publish before committing."""
    previous = lead.get("assignment")
    moved: LeadData = {**lead}
    timer = with_sla(assignment, moved, org, now)
    moved["assignment"] = assignment
    full = {**record, "previous": previous, "org_version": org.version}
    made = assigned(moved, "lead.reassigned", step, org, now, full)
    if not await store.insert_assignments(conn, [made.row], unpublished=True):
        raise db_conflict(1)
    await store.insert_timers(conn, [timer] if timer is not None else [])
    await store.add_journey(conn, [made.journey])
    if assignment["kind"] == "rep":
        note = notification(org, "assigned", moved, assignment, now)
        await store.queue_notifications(conn, [note] if note is not None else [])
        obs.assignments.append((assignment.get("team_id") or "",
                                assignment.get("strategy") or ""))
    return Moved(status, assignment, [made.outgoing], waited)
