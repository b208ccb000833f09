"""Route's feedback from sales tools: a touch, an accept or a reject of a routed lead.

A touch (or an accept, which is acting on the lead) stops the SLA clock, met or missed as
`sla.sla_outcome` decides; a reject sends the lead where `routing.rejection` decides.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.route import store
from services.route.assignments import Observations, assigned, db_conflict
from services.route.routing import rejection
from services.route.sla import sla_outcome
from shared import topics
from shared.events import Event, Outgoing, derived_id, event_from_dict, make_event
from shared.lead import AssignmentData, LeadData
from shared.org import OrgFile

SERVICE = "route"
# A touch's `at` comes from the sales tool's clock: one this far before the assignment
# began belongs to an earlier assignment; anything closer is taken as this one's.
CLOCK_SKEW = timedelta(minutes=1)
log = logging.getLogger("leadflow.route")


@dataclass
class TouchResult:
    status: str  # met | late | no_open_clock | before_assignment
    outgoing: list[Outgoing]


async def touch_lead(conn: AsyncConnection, lead: LeadData, rep_id: str | None,
                     channel: str | None, at: datetime, obs: Observations) -> TouchResult:
    """A rep touched the lead: stop the clock. Met when `at` is not after the deadline."""
    lead_id = lead["lead_id"]
    await store.current_for_update(conn, lead_id)  # route's lock order: the lead, its clock
    timer = await store.open_timer_for_update(conn, lead_id)
    detail = {"rep_id": rep_id, "channel": channel}
    await store.add_journey(conn, [(lead_id, at, "touched", detail,
                                    f"{lead_id}:touched:{at.isoformat()}:{rep_id}")])
    await store.mark_touched(conn, lead_id, rep_id, at)
    if timer is None or timer.state != "open":
        return TouchResult("no_open_clock", [])
    if at < timer.started_at - CLOCK_SKEW:
        # Dated well before this assignment began: it belongs to an earlier one, and the
        # current clock keeps running.
        return TouchResult("before_assignment", [])
    state = sla_outcome(timer.due_at, at)
    met = state == "met"
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
    assignment: AssignmentData | None = None


async def accept_lead(conn: AsyncConnection, lead: LeadData, rep_id: str | None, at: datetime,
                      obs: Observations) -> TouchResult:
    """A rep accepted the lead: recorded in its journey; it stops the SLA clock as a
    touch does (accepting is acting on it)."""
    lead_id = lead["lead_id"]
    await store.current_for_update(conn, lead_id)  # route's lock order: the lead first
    await store.add_journey(conn, [(lead_id, at, "accepted", {"rep_id": rep_id},
                                    f"{lead_id}:accepted:{rep_id}")])
    return await touch_lead(conn, lead, rep_id, "accepted", at, obs)


async def reject_lead(conn: AsyncConnection, org: OrgFile, lead: LeadData,
                      rep_id: str | None, reason: str, at: datetime) -> RejectResult:
    """A rep rejected the lead: where it goes is `routing.rejection`'s decision; here it
    becomes `lead.reassigned` with the next attempt, the reason in the decision record
    and the journey, and the SLA clock stops (`rejected`)."""
    lead_id = lead["lead_id"]
    await store.current_for_update(conn, lead_id)  # route's lock order: the lead, its clock
    current: AssignmentData = lead.get("assignment") or {}
    status, assignment = rejection(org, current, rep_id, reason, at)
    if assignment is None:
        if status == "already_rejected":
            # A redelivery after a crash between commit and publish: the rejection's
            # stored event goes out again (same id), so it is never lost.
            stored = (await store.load_latest_assignment_events(conn, [lead_id])).get(lead_id)
            if stored is not None:
                return RejectResult(status, [Outgoing(topics.ROUTED, lead["person_key"],
                                                      event_from_dict(stored))], current)
        return RejectResult(status, [], current)
    await store.close_timers(conn, [(lead_id, int(current.get("attempt") or 1))], "rejected",
                             at)
    record = {"cause": "rejected", "reason": reason, "previous": current,
              "org_version": org.version}
    rejected: LeadData = {**lead, "assignment": assignment}
    made = assigned(rejected, "lead.reassigned", "rejected", org,
                    at, record, assignment["rejected"])
    if not await store.insert_assignments(conn, [made.row]):
        raise db_conflict(1)
    await store.add_journey(conn, [made.journey])
    return RejectResult("rejected", [made.outgoing], assignment)


FEEDBACK = ("lead.touched", "lead.accepted", "lead.rejected")


async def handle_feedback(conn: AsyncConnection, org: OrgFile, events: list[Event],
                          now: datetime, obs: Observations) -> list[Outgoing]:
    """`lead.touched`, `lead.accepted` and `lead.rejected` in the order they came; the
    leads they name are loaded in one query, and a rejection's new assignment is what a
    later event in the same batch sees."""
    ids = {str(e.data.get("lead_id")) for e in events if _is_uuid(e.data.get("lead_id"))}
    leads = await store.load_leads(conn, sorted(ids))
    out: list[Outgoing] = []
    for event in events:
        lead_id = str(event.data.get("lead_id"))
        lead = leads.get(lead_id)
        if lead is None:
            log.warning("%s for a lead route has not routed (%r): ignored", event.type,
                        event.data.get("lead_id"))
            continue
        at = _parse_time(event.data.get("at")) or _parse_time(event.time) or now
        rep_id = event.data.get("rep_id")
        if event.type == "lead.rejected":
            reason = str(event.data.get("reason") or "").strip() or "no reason given"
            rejected = await reject_lead(conn, org, lead, rep_id, reason[:500], at)
            if rejected.status != "rejected":
                log.warning("lead.rejected for %s ignored: %s", lead_id, rejected.status)
            else:
                leads[lead_id] = {**lead, "assignment": rejected.assignment}
            out += rejected.outgoing
        elif event.type == "lead.accepted":
            out += (await accept_lead(conn, lead, rep_id, at, obs)).outgoing
        else:
            out += (await touch_lead(conn, lead, rep_id, event.data.get("channel"), at,
                                     obs)).outgoing
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
