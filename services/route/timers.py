"""The SLA loop: claims due timers (`FOR UPDATE SKIP LOCKED`, so each fires once across
route replicas), asks `sla.py` what to do (`after_breach`: reassign or escalate), writes
it and publishes before committing.

Timers live in PostgreSQL, so they fire after downtime too (late, never lost). A timer's
events are published while its row is locked and committed only after the broker's
acknowledgement; a crash in between leaves the timer open and it fires again with the
same event ids.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from services.route import store
from services.route.assignments import (
    Observations,
    assigned,
    db_conflict,
    needs_load_counts,
    with_sla,
)
from services.route.notify import notification
from services.route.routing import Rotation
from services.route.sla import after_breach
from shared import db, metrics, topics
from shared.events import Outgoing, derived_id, make_event
from shared.lead import AssignmentData, LeadData
from shared.service import Runtime, drain_until_stopped

SERVICE = "route"
CLAIM_LIMIT = 200


async def fire_due_timers(rt: Runtime, now: datetime) -> int:
    obs = Observations()
    async with db.transaction(rt.engine) as conn:
        if not await store.any_timer_due(conn, now):
            return 0
        org = await rt.org.current(conn)
        # Route's lock order: rotations, then the leads and their clocks.
        rotations = await store.lock_rotations(conn, [t.id for t in org.teams])
        due = await store.claim_due_timers(conn, now, CLAIM_LIMIT)
        if not due:
            return 0
        avail = await store.load_availability(conn, counts_needed=needs_load_counts(org))
        tried_by_lead = await store.reps_tried(conn, [str(t.lead_id) for t in due])
        out: list[Outgoing] = []
        rows: list[store.AssignmentRow] = []
        timers: list[store.Timer] = []
        notes: list[store.Notification | None] = []
        journey: list[store.JourneyStep] = []
        changed: dict[str, Rotation] = {}
        for t in due:
            lead_id = t.lead_id
            lead: LeadData = {**t.lead}
            person = lead["person_key"]
            current: AssignmentData = {"kind": "rep", "rep_id": t.rep_id,
                                       "team_id": t.team_id, "attempt": t.attempt}
            breach = {"lead_id": lead_id, "assignment": current, "due_at": t.due_at.isoformat(),
                      "temperature": t.temperature}
            out.append(Outgoing(topics.SLA, person, make_event(
                "sla.breached", SERVICE, breach,
                event_id=derived_id(lead_id, "sla.breached", str(t.attempt)), at=now)))
            journey.append((lead_id, now, "sla.breached", breach,
                            f"{lead_id}:sla.breached:{t.attempt}"))
            obs.breaches.append((t.team_id, t.temperature))
            notes.append(notification(org, "breached", lead, current, now,
                                      due_at=t.due_at.isoformat()))
            avail.open_counts[t.rep_id] = max(0, avail.open_counts.get(t.rep_id, 1) - 1)

            assignment, rotation, candidates = after_breach(
                org, t.team_id, t.attempt, rotations, avail,
                tried_by_lead.get(lead_id, frozenset()), now)
            if assignment is None:
                continue  # no escalation configured: the breach is reported, the rep keeps it
            if rotation is not None:
                rotations[rotation.team_id] = changed[rotation.team_id] = rotation
            timer = with_sla(assignment, lead, org, now)
            if timer is not None:
                timers.append(timer)
                avail.open_counts[timer.rep_id] = avail.open_counts.get(timer.rep_id, 0) + 1
                obs.assignments.append((timer.team_id, assignment.get("strategy") or ""))
            lead["assignment"] = assignment
            decision = {"cause": "sla_breached", "previous": current, "candidates": candidates,
                        "org_version": org.version}
            made = assigned(lead, "lead.reassigned", "reassigned", org, now, decision)
            rows.append(made.row)
            journey.append(made.journey)
            out.append(made.outgoing)
            if assignment["kind"] == "rep":
                notes.append(notification(org, "assigned", lead, assignment, now))
        await store.close_timers(conn, [(t.lead_id, t.attempt) for t in due], "breached", now)
        inserted = await store.insert_assignments(conn, rows)
        if len(inserted) != len(rows):
            raise db_conflict(len(rows) - len(inserted))
        await store.insert_timers(conn, timers)
        await store.save_rotations(conn, list(changed.values()))
        await store.add_journey(conn, journey)
        await store.queue_notifications(conn, [n for n in notes if n is not None])
        # Published before commit: if the broker is down the rows stay locked and open,
        # and the timers fire again (same event ids) once it is back.
        await asyncio.wait_for(rt.publisher.publish(out), 30)
    obs.record()
    return len(due)


async def fire_due_warnings(rt: Runtime, now: datetime) -> int:
    """Send the reminders now due (`sla.warning` on `leads.sla`, and the team's webhook):
    one per step, once across replicas; after downtime only the latest step due is sent,
    and none once the deadline itself has passed (that is a breach)."""
    async with db.transaction(rt.engine) as conn:
        due = await store.claim_due_warnings(conn, now, CLAIM_LIMIT)
        if not due:
            return 0
        org = await rt.org.current(conn)
        out: list[Outgoing] = []
        journey: list[store.JourneyStep] = []
        notes: list[store.Notification | None] = []
        for t in due:
            lead_id, step = t.lead_id, t.step
            assignment: AssignmentData = {"kind": "rep", "rep_id": t.rep_id,
                                          "team_id": t.team_id, "attempt": t.attempt}
            data = {"lead_id": lead_id, "assignment": assignment,
                    "due_at": t.due_at.isoformat(), "temperature": t.temperature,
                    "warning": step, "of": t.total}
            key = f"{lead_id}:sla.warning:{t.attempt}:{step}"
            lead = t.lead
            out.append(Outgoing(topics.SLA, lead["person_key"], make_event(
                "sla.warning", SERVICE, data,
                event_id=derived_id(lead_id, "sla.warning", str(t.attempt), str(step)),
                at=now)))
            journey.append((lead_id, now, "sla.warning", data, key))
            notes.append(notification(org, "warning", lead, assignment, now,
                                      due_at=t.due_at.isoformat(), step=step))
        await store.mark_warned(conn, [(t.lead_id, t.attempt, t.step) for t in due])
        await store.add_journey(conn, journey)
        await store.queue_notifications(conn, [n for n in notes if n is not None])
        await asyncio.wait_for(rt.publisher.publish(out), 30)
    for t in due:
        metrics.SLA_WARNINGS.labels(t.team_id, t.temperature).inc()
    return len(due)


async def run_timers(rt: Runtime, stop: asyncio.Event) -> None:
    async def fire() -> int:
        fired = await fire_due_timers(rt, rt.now())
        return max(fired, await fire_due_warnings(rt, rt.now()))

    await drain_until_stopped(stop, "SLA timers", rt.settings.sla_tick_s, fire, CLAIM_LIMIT)
