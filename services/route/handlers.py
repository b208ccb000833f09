"""Route's consumer: `lead.scored` from score is assigned (assignments.py); touches,
accepts and rejects from sales tools on `leads.activity` are recorded (feedback.py). One
transaction per batch."""

from __future__ import annotations

from services.route.assignments import Observations, route_leads
from services.route.feedback import FEEDBACK, handle_feedback
from shared import db
from shared.events import Event, Outgoing
from shared.lead import check_lead
from shared.service import Runtime


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
        if feedback:
            out += await handle_feedback(conn, org, feedback, now, obs)
    obs.record()
    return out
