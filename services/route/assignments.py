"""Route's assignments: a scored lead decided, written and announced once.

One assignment per lead and attempt, however often an event is redelivered: the batch
locks the team rotations, then looks for assignments already made; a lead already
assigned gets its stored `lead.routed` event again (same id), never a second decision.
What a re-scored lead means is `routing.rescore_choice`'s to say; this module loads,
calls the decisions, writes and emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.route import store
from services.route.notify import notification
from services.route.routing import Decision, decide_route, rescore_choice
from services.route.sla import sla_deadline, warning_times
from shared import metrics, topics
from shared.errors import RetryableError
from shared.events import Outgoing, derived_id, event_from_dict, make_event
from shared.lead import AssignmentData, LeadData, SlaClockData
from shared.org import OrgFile

SERVICE = "route"


@dataclass
class Observations:
    """Metrics to record once the transaction has committed."""

    speed: list[tuple[str, str, str, float]] = field(default_factory=list)
    assignments: list[tuple[str, str]] = field(default_factory=list)
    touches: list[tuple[str, str, float, bool]] = field(default_factory=list)
    breaches: list[tuple[str, str]] = field(default_factory=list)

    def observe_routed(self, routed: list[tuple[LeadData, bool]], now: datetime) -> None:
        """Speed-to-lead for each lead decided for the first time, assignments per team."""
        for lead, first in routed:
            a = lead.get("assignment")
            assert a is not None  # routed leads carry their assignment
            if first:  # speed-to-lead is about the first decision
                received = datetime.fromisoformat(lead["received_at"])
                self.speed.append((str((lead.get("source") or {}).get("provider") or "api"),
                                   str((lead.get("score") or {}).get("temperature") or "none"),
                                   a["kind"], max(0.0, (now - received).total_seconds())))
            if a["kind"] == "rep":
                self.assignments.append((a.get("team_id") or "", a.get("strategy") or ""))

    def record(self) -> None:
        for provider, temperature, kind, seconds in self.speed:
            metrics.SPEED_TO_LEAD.labels(provider, temperature, kind).observe(seconds)
        for team, strategy in self.assignments:
            metrics.ASSIGNMENTS.labels(team, strategy).inc()
        for team, temperature, seconds, met in self.touches:
            metrics.FIRST_TOUCH.labels(team, temperature).observe(seconds)
            if met:
                metrics.SLA_MET.labels(team, temperature).inc()
            else:
                metrics.SLA_BREACHES.labels(team, temperature).inc()
        for team, temperature in self.breaches:
            metrics.SLA_BREACHES.labels(team, temperature).inc()


def with_sla(assignment: AssignmentData, lead: LeadData, org: OrgFile,
             now: datetime) -> store.Timer | None:
    """Attach the SLA clock to a rep assignment; returns the timer to store."""
    rep_id, team_id = assignment.get("rep_id"), assignment.get("team_id")
    if assignment["kind"] != "rep" or rep_id is None or team_id is None:
        return None
    temperature = (lead.get("score") or {}).get("temperature") or "cold"
    tier = org.sla.tier(temperature)
    team = org.team(team_id)
    if tier is None or team is None:
        return None
    due = sla_deadline(now, tier.within, tier.clock, team.calendar)
    warnings = warning_times(now, tier.within, tier.clock, team.calendar, tier.warn_fractions)
    clock: SlaClockData = {"temperature": temperature, "due_at": due.isoformat(),
                           "clock": tier.clock}
    if warnings:
        clock["warn_at"] = [w.isoformat() for w in warnings]
    assignment["sla"] = clock
    return store.Timer(lead["lead_id"], assignment["attempt"], rep_id, team.id,
                       temperature, tier.clock, now, due, warnings)


@dataclass
class Assigned:
    """A new assignment of a lead: the row that records it, the event that announces it
    on `leads.routed`, and its journey step."""

    row: store.AssignmentRow
    outgoing: Outgoing
    journey: store.JourneyStep


def assigned(lead: LeadData, kind: str, step: str, org: OrgFile, at: datetime,
             record: dict[str, Any], detail: dict[str, Any] | None = None) -> Assigned:
    """`lead` carries its new `assignment`; one event id per lead and attempt, so a repeat
    of the same decision is the same event."""
    lead_id, assignment = lead["lead_id"], lead.get("assignment")
    assert assignment is not None, "assigned() takes a lead with its new assignment"
    attempt = assignment["attempt"]
    event_id = derived_id(lead_id, "routed", str(attempt))
    event = make_event(kind, SERVICE, lead, event_id=event_id, at=at)
    return Assigned(
        store.AssignmentRow(lead_id, assignment, org.version, event_id, at, record,
                            event.encode(), lead),
        Outgoing(topics.ROUTED, lead["person_key"], event),
        (lead_id, at, step, assignment if detail is None else detail,
         f"{lead_id}:{step}:{attempt}"))


def needs_load_counts(org: OrgFile) -> bool:
    """Open-assignment counts matter only for capacity caps and least_loaded teams."""
    return any(t.strategy == "least_loaded" or any(r.capacity is not None for r in t.reps)
               for t in org.teams)


def short_decision(decision: Decision) -> dict[str, Any]:
    """The short form `lead.routed` carries: matched rule, passed-over reps, version."""
    return {
        "matched_rule": next((t["rule"] for t in decision.trace if t.get("matched")), None),
        "rules_tried": len(decision.trace),
        "passed_over": {c["rep_id"]: c["passed_over"] for c in decision.candidates
                        if c["passed_over"]},
    }


async def route_leads(conn: AsyncConnection, org: OrgFile, leads: list[LeadData],
                      now: datetime, obs: Observations) -> list[Outgoing]:
    unique = list({lead["lead_id"]: lead for lead in leads}.values())
    ids = [lead["lead_id"] for lead in unique]
    rotations = await store.lock_rotations(conn, [t.id for t in org.teams])
    await store.lock_current(conn, ids)  # route's lock order: rotations, then the leads
    done = await store.load_latest_assignment_events(conn, ids)
    avail = await store.load_availability(conn, counts_needed=needs_load_counts(org))
    held: dict[str, tuple[str, str]] = {}
    if org.routing.sticky is not None:
        held = await store.holders(conn, [lead["person_key"] for lead in unique],
                                   now - org.routing.sticky.within)
    out: list[Outgoing] = []
    rows: list[store.AssignmentRow] = []
    timers: list[store.Timer] = []
    notes: list[store.Notification] = []
    journey = []
    fresh: list[tuple[LeadData, bool]] = []  # (lead, first decision)
    changed_rotations = {}
    for lead in unique:
        lead_id = lead["lead_id"]
        previous = done.get(lead_id)
        if previous is None:
            decision = decide_route(lead, org, rotations, avail, now, holder=_holder(held, lead))
        else:
            choice, rerouted = rescore_choice(
                previous.get("data") or {}, lead,
                partial(decide_route, lead, org, rotations, avail, now,
                        holder=_holder(held, lead)))
            if choice == "redeliver":  # the decision stands: publish it again
                out.append(Outgoing(topics.ROUTED, lead["person_key"],
                                    event_from_dict(previous)))
            if rerouted is None:
                continue
            decision = rerouted
        if decision.rotation is not None:
            rotations[decision.rotation.team_id] = decision.rotation
            changed_rotations[decision.rotation.team_id] = decision.rotation
        assignment = decision.assignment
        attempt = 1
        kind, step = "lead.routed", "routed"
        if previous is not None:
            attempt = int(((previous.get("data") or {}).get("assignment") or {})
                          .get("attempt") or 1) + 1
            kind, step = "lead.reassigned", "rescored"
            assignment["attempt"] = attempt  # before the SLA timer, which is per attempt
            assignment["reason"] = assignment.get("reason") or "rescored"
        timer = with_sla(assignment, lead, org, now)
        if timer is not None:
            timers.append(timer)
            avail.open_counts[timer.rep_id] = avail.open_counts.get(timer.rep_id, 0) + 1
        lead["assignment"] = assignment
        lead["decision"] = short_decision(decision) | {"org_version": org.version}
        lead.setdefault("timings", {})["routed_at"] = now.isoformat()
        record = decision.record(org.version)
        if previous is not None:
            record = {**record, "cause": "rescored",
                      "previous": (previous.get("data") or {}).get("assignment")}
        made = assigned(lead, kind, step, org, now, record)
        rows.append(made.row)
        journey.append(made.journey)
        out.append(made.outgoing)
        fresh.append((lead, previous is None))
        rep_id, team_id = assignment.get("rep_id"), assignment.get("team_id")
        if assignment["kind"] == "rep" and rep_id is not None and team_id is not None:
            held[lead["person_key"]] = (rep_id, team_id)
            note = notification(org, "assigned", lead, assignment, now)
            if note is not None:
                notes.append(note)
    inserted = await store.insert_assignments(conn, rows)
    if len(inserted) != len(rows):
        # Only possible if another writer bypassed the rotation lock; refuse to publish a
        # second decision, and let the batch be retried to re-emit the stored one.
        raise db_conflict(len(rows) - len(inserted))
    await store.insert_timers(conn, timers)
    await store.save_rotations(conn, list(changed_rotations.values()))
    await store.add_journey(conn, journey)
    await store.queue_notifications(conn, notes)
    obs.observe_routed(fresh, now)
    return out


def _holder(held: dict[str, tuple[str, str]], lead: LeadData) -> str | None:
    found = held.get(lead["person_key"])
    return found[0] if found else None


def db_conflict(count: int) -> Exception:
    return RetryableError(f"{count} assignment(s) written concurrently; retrying the batch")
