"""Route's handlers: assign scored leads, record touches.

One assignment per lead and attempt, however often an event is redelivered: the batch
locks the team rotations, then looks for assignments already made; a lead already
assigned gets its stored `lead.routed` event again (same id), never a second decision.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.route import store
from services.route.notify import notification
from services.route.routing import Decision, decide_route
from services.route.sla import sla_deadline, warning_times
from shared import db, metrics, topics
from shared.errors import RetryableError
from shared.events import Event, Outgoing, derived_id, event_from_dict, make_event
from shared.lead import check_lead
from shared.org import OrgFile
from shared.service import Runtime

SERVICE = "route"
log = logging.getLogger("leadflow.route")


@dataclass
class Observations:
    """Metrics to record once the transaction has committed."""

    speed: list[tuple[str, str, str, float]] = field(default_factory=list)
    assignments: list[tuple[str, str]] = field(default_factory=list)
    touches: list[tuple[str, str, float, bool]] = field(default_factory=list)
    breaches: list[tuple[str, str]] = field(default_factory=list)

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


def with_sla(assignment: dict[str, Any], lead: dict[str, Any], org: OrgFile,
             now: datetime) -> store.Timer | None:
    """Attach the SLA clock to a rep assignment; returns the timer to store."""
    if assignment["kind"] != "rep":
        return None
    temperature = (lead.get("score") or {}).get("temperature") or "cold"
    tier = org.sla.tier(temperature)
    team = org.team(assignment["team_id"])
    if tier is None or team is None:
        return None
    due = sla_deadline(now, tier.within, tier.clock, team.calendar)
    warnings = warning_times(now, tier.within, tier.clock, team.calendar, tier.warn_fractions)
    assignment["sla"] = {"temperature": temperature, "due_at": due.isoformat(),
                         "clock": tier.clock}
    if warnings:
        assignment["sla"]["warn_at"] = [w.isoformat() for w in warnings]
    return store.Timer(lead["lead_id"], assignment["attempt"], assignment["rep_id"], team.id,
                       temperature, tier.clock, now, due, warnings)


@dataclass
class Assigned:
    """A new assignment of a lead: the row that records it, the event that announces it
    on `leads.routed`, and its journey step."""

    row: store.AssignmentRow
    outgoing: Outgoing
    journey: tuple[str, datetime, str, dict[str, Any], str]


def assigned(lead: dict[str, Any], kind: str, step: str, org: OrgFile, at: datetime,
             record: dict[str, Any], detail: dict[str, Any] | None = None) -> Assigned:
    """`lead` carries its new `assignment`; one event id per lead and attempt, so a repeat
    of the same decision is the same event."""
    lead_id, assignment = lead["lead_id"], lead["assignment"]
    attempt = assignment["attempt"]
    event_id = derived_id(lead_id, "routed", str(attempt))
    event = make_event(kind, SERVICE, lead, event_id=event_id, at=at)
    return Assigned(
        store.AssignmentRow(lead_id, assignment, org.version, event_id, at, record,
                            event.encode()),
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


async def route_leads(conn: Any, org: OrgFile, leads: list[dict[str, Any]],
                      now: datetime, obs: Observations) -> list[Outgoing]:
    unique = list({lead["lead_id"]: lead for lead in leads}.values())
    ids = [lead["lead_id"] for lead in unique]
    rotations = await store.lock_rotations(conn, [t.id for t in org.teams])
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
    fresh: list[tuple[dict[str, Any], bool]] = []  # (lead, first decision)
    changed_rotations = {}
    for lead in unique:
        lead_id = lead["lead_id"]
        previous = done.get(lead_id)
        decision = None
        if previous is not None:
            # A lead in nurture that score re-scored (an activity made it hot) is decided
            # again; a rep assignment stands. Anything else is a redelivery: the decision
            # stands and the same event is published again.
            before = (previous.get("data") or {})
            if _turned(before, lead):
                candidate = decide_route(lead, org, rotations, avail, now,
                                         holder=_holder(held, lead))
                if candidate.assignment["kind"] != "nurture":
                    decision = candidate
            if decision is None:
                if _same_score(before, lead):  # a redelivery: publish the decision again
                    out.append(Outgoing(topics.ROUTED, lead["person_key"],
                                        event_from_dict(previous)))
                continue  # a new score that changes nothing here: nothing to publish
        else:
            decision = decide_route(lead, org, rotations, avail, now, holder=_holder(held, lead))
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
        if assignment["kind"] == "rep":
            held[lead["person_key"]] = (assignment["rep_id"], assignment["team_id"])
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
    for lead, first in fresh:
        a = lead["assignment"]
        received = datetime.fromisoformat(lead["received_at"])
        if first:  # speed-to-lead is about the first decision
            obs.speed.append((str((lead.get("source") or {}).get("provider") or "api"),
                              str((lead.get("score") or {}).get("temperature") or "none"),
                              a["kind"], max(0.0, (now - received).total_seconds())))
        if a["kind"] == "rep":
            obs.assignments.append((a.get("team_id") or "", a.get("strategy") or ""))
    return out


def _holder(held: dict[str, tuple[str, str]], lead: dict[str, Any]) -> str | None:
    found = held.get(lead["person_key"])
    return found[0] if found else None


def _same_score(before: dict[str, Any], lead: dict[str, Any]) -> bool:
    old, new = before.get("score") or {}, lead.get("score") or {}
    return all(old.get(k) == new.get(k) for k in ("points", "stage", "temperature", "model"))


def _turned(before: dict[str, Any], lead: dict[str, Any]) -> bool:
    """Whether a lead first routed to nurture comes back re-scored: its stage or
    temperature changed since that decision. A lead an SLA escalation sent elsewhere
    (a later attempt) is not routed again by a score."""
    assignment = before.get("assignment") or {}
    if assignment.get("kind") != "nurture" or int(assignment.get("attempt") or 1) != 1:
        return False
    old, new = before.get("score") or {}, lead.get("score") or {}
    return (old.get("stage"), old.get("temperature")) != (new.get("stage"),
                                                          new.get("temperature"))


def db_conflict(count: int) -> Exception:
    return RetryableError(f"{count} assignment(s) written concurrently; retrying the batch")


@dataclass
class TouchResult:
    status: str  # met | late | no_open_clock
    outgoing: list[Outgoing]


async def touch_lead(conn: Any, lead: dict[str, Any], rep_id: str | None, channel: str | None,
                     at: datetime, obs: Observations) -> TouchResult:
    """A rep touched the lead: stop the clock. Met when `at` is not after the deadline."""
    lead_id = lead["lead_id"]
    timer = await store.open_timer_for_update(conn, lead_id)
    detail = {"rep_id": rep_id, "channel": channel}
    await store.add_journey(conn, [(lead_id, at, "touched", detail,
                                    f"{lead_id}:touched:{at.isoformat()}:{rep_id}")])
    if timer is None or timer.state != "open":
        return TouchResult("no_open_clock", [])
    met = at <= timer.due_at
    state = "met" if met else "breached"
    await store.close_timers(conn, [(lead_id, timer.attempt)], state, at)
    assignment = {"kind": "rep", "rep_id": timer.rep_id, "team_id": timer.team_id,
                  "attempt": timer.attempt}
    obs.touches.append((timer.team_id, timer.temperature,
                        max(0.0, (at - timer.started_at).total_seconds()), met))
    out = []
    if met:
        data = {"lead_id": lead_id, "assignment": assignment, "due_at": timer.due_at.isoformat(),
                "touched_at": at.isoformat(), "rep_id": rep_id, "channel": channel}
        event = make_event("sla.met", SERVICE, data,
                           event_id=derived_id(lead_id, "sla.met", str(timer.attempt)), at=at)
        out.append(Outgoing(topics.SLA, lead["person_key"], event))
        await store.add_journey(conn, [(lead_id, at, "sla.met", data,
                                        f"{lead_id}:sla.met:{timer.attempt}")])
    return TouchResult("met" if met else "late", out)


@dataclass
class RejectResult:
    status: str  # rejected | already_rejected | not_with_a_rep | not_this_rep
    outgoing: list[Outgoing]
    assignment: dict[str, Any] | None = None


async def accept_lead(conn: Any, lead: dict[str, Any], rep_id: str | None, at: datetime,
                      obs: Observations) -> TouchResult:
    """A rep accepted the lead: recorded in its journey; it stops the SLA clock as a
    touch does (accepting is acting on it)."""
    lead_id = lead["lead_id"]
    await store.add_journey(conn, [(lead_id, at, "accepted", {"rep_id": rep_id},
                                    f"{lead_id}:accepted:{rep_id}")])
    return await touch_lead(conn, lead, rep_id, "accepted", at, obs)


async def reject_lead(conn: Any, org: OrgFile, lead: dict[str, Any], rep_id: str | None,
                      reason: str, at: datetime) -> RejectResult:
    """A rep rejected the lead: back to marketing (`routing.rejected`, a nurture track by
    default) as `lead.reassigned` with the next attempt, the reason recorded in the
    assignment, the decision record and the journey. The SLA clock stops (`rejected`).
    Only the rep who holds the lead can reject it; a repeat is a no-op."""
    lead_id = lead["lead_id"]
    current = lead.get("assignment") or {}
    if current.get("reason") == "rejected":
        return RejectResult("already_rejected", [], current)
    if current.get("kind") != "rep":
        return RejectResult("not_with_a_rep", [], current)
    if rep_id is not None and rep_id != current.get("rep_id"):
        return RejectResult("not_this_rep", [], current)
    attempt = int(current.get("attempt") or 1) + 1
    dest = org.routing.rejected
    assignment: dict[str, Any] = {"kind": dest.kind, "attempt": attempt, "rule": None,
                                  "reason": "rejected",
                                  "rejected": {"rep_id": current.get("rep_id"),
                                               "reason": reason, "at": at.isoformat()}}
    assignment["track" if dest.kind == "nurture" else "queue"] = dest.target
    await store.close_timers(conn, [(lead_id, int(current.get("attempt") or 1))], "rejected",
                             at)
    record = {"cause": "rejected", "reason": reason, "previous": current,
              "org_version": org.version}
    made = assigned({**lead, "assignment": assignment}, "lead.reassigned", "rejected", org,
                    at, record, assignment["rejected"])
    if not await store.insert_assignments(conn, [made.row]):
        raise db_conflict(1)
    await store.add_journey(conn, [made.journey])
    return RejectResult("rejected", [made.outgoing], assignment)


FEEDBACK = ("lead.touched", "lead.accepted", "lead.rejected")


async def handle_route_batch(batch: list[Event], rt: Runtime) -> list[Outgoing]:
    """`lead.scored` from score; `lead.touched`, `lead.accepted` and `lead.rejected` from
    sales tools on `leads.activity` (in the order they came)."""
    now = rt.now()
    scored = [check_lead(e.data) for e in batch if e.type == "lead.scored"]
    feedback = [e for e in batch if e.type in FEEDBACK]
    if not scored and not feedback:
        return []
    obs = Observations()
    out: list[Outgoing] = []
    async with db.transaction(rt.engine) as conn:
        org = await rt.org.current(conn)
        if scored:
            out += await route_leads(conn, org, scored, now, obs)
        for event in feedback:
            lead_id = event.data.get("lead_id")
            lead = await store.load_lead(conn, str(lead_id)) if _is_uuid(lead_id) else None
            if lead is None:
                log.warning("%s for a lead route has not routed (%r): ignored", event.type,
                            lead_id)
                continue
            at = _parse_time(event.data.get("at")) or _parse_time(event.time) or now
            rep_id = event.data.get("rep_id")
            if event.type == "lead.rejected":
                reason = str(event.data.get("reason") or "").strip() or "no reason given"
                rejected = await reject_lead(conn, org, lead, rep_id, reason[:500], at)
                if rejected.status != "rejected":
                    log.warning("lead.rejected for %s ignored: %s", lead_id, rejected.status)
                out += rejected.outgoing
            elif event.type == "lead.accepted":
                out += (await accept_lead(conn, lead, rep_id, at, obs)).outgoing
            else:
                out += (await touch_lead(conn, lead, rep_id, event.data.get("channel"), at,
                                         obs)).outgoing
    obs.record()
    return out


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
