"""Route's admin API: a lead's journey, touches that stop the SLA clock, reps' availability,
and the ops page. Every call takes `Authorization: Bearer $LEADFLOW_ADMIN_KEY` (the ops
page also accepts `?key=` so a browser can open it)."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.route import store
from services.route.assignments import Observations
from services.route.feedback import accept_lead, reject_lead, touch_lead
from services.route.queue_api import queue_routes
from services.route.routing import rep_problem
from services.route.worklists import queues_view
from shared import db
from shared.auth import bearer_ok, lead_id_param, require_bearer, token_matches
from shared.lead import AssignmentData, LeadData
from shared.service import Runtime


class Touch(BaseModel):
    rep_id: str | None = Field(None, max_length=200)
    channel: str | None = Field(None, max_length=100, examples=["call", "email"])
    at: AwareDatetime | None = None


class Accept(BaseModel):
    rep_id: str | None = Field(None, max_length=200)
    at: AwareDatetime | None = None


class Reject(BaseModel):
    rep_id: str | None = Field(None, max_length=200)
    reason: str = Field(min_length=1, max_length=500, examples=["not a buyer", "student"])
    at: AwareDatetime | None = None


class RepPatch(BaseModel):
    available: bool


def _since(at: datetime | None, start: datetime) -> float | None:
    return None if at is None else round((at - start).total_seconds(), 3)


def journey_view(lead: LeadData, j: dict[str, list[Any]]) -> dict[str, Any]:
    received = datetime.fromisoformat(lead["received_at"])
    timings = lead.get("timings") or {}
    steps: list[dict[str, Any]] = []
    for step, key in (("received", "received_at"), ("enriched", "enriched_at"),
                      ("scored", "scored_at")):
        if timings.get(key):
            at = datetime.fromisoformat(timings[key])
            steps.append({"step": step, "at": at.isoformat(), "after_s": _since(at, received)})
    for row in j["steps"]:
        steps.append({"step": row["step"], "at": row["at"].isoformat(),
                      "after_s": _since(row["at"], received), "detail": row["detail"]})
    return {
        "lead_id": lead["lead_id"],
        "lead": lead,
        "steps": steps,
        "assignments": [{**a, "assigned_at": a["assigned_at"].isoformat()}
                        for a in j["assignments"]],
        "sla": [{**t, "started_at": t["started_at"].isoformat(), "due_at": t["due_at"].isoformat(),
                 "closed_at": t["closed_at"].isoformat() if t["closed_at"] else None}
                for t in j["timers"]],
    }


async def _lead_or_404(conn: AsyncConnection, lead_id: str) -> LeadData:
    lead = await store.load_lead(conn, lead_id)
    if lead is None:
        raise HTTPException(404, {"error": "not found",
                                  "reason": f"route has not seen lead {lead_id}"})
    return lead


def _not_rejectable(current: AssignmentData | None) -> HTTPException:
    """409 for a reject by someone who does not hold the lead, naming who does."""
    held_by = (current or {}).get("rep_id")
    return HTTPException(409, {
        "error": "conflict", "field": "rep_id" if held_by else None,
        "reason": (f"the lead is assigned to rep {held_by!r}" if held_by else
                   "the lead is not with a rep (nothing to reject)")})


def build_router(rt: Runtime) -> APIRouter:
    def admin(request: Request) -> None:
        require_bearer(request, rt.settings.admin_key)

    router = APIRouter(tags=["route"])
    guarded = APIRouter(tags=["route"], dependencies=[Depends(admin)])

    @guarded.get("/v1/leads/{lead_id}", summary="A lead's journey, with timings and decisions")
    async def get_lead(lead_id: str) -> dict[str, Any]:
        lead_id = lead_id_param(lead_id)
        async with db.connection(rt.engine) as conn:
            lead = await _lead_or_404(conn, lead_id)
            j = await store.load_journey(conn, lead_id)
        return journey_view(lead, j)

    @guarded.post("/v1/leads/{lead_id}/touch", summary="A rep touched the lead: stop the clock")
    async def post_touch(lead_id: str, body: Touch) -> dict[str, Any]:
        lead_id = lead_id_param(lead_id)
        at = body.at or rt.now()
        obs = Observations()
        async with db.transaction(rt.engine) as conn:
            lead = await _lead_or_404(conn, lead_id)
            result = await touch_lead(conn, lead, body.rep_id, body.channel, at, obs)
            # Published before commit, so an acknowledged touch always has its sla.met out.
            await rt.publisher.publish(result.outgoing)
        obs.record()
        return {"lead_id": lead_id, "status": result.status, "at": at.isoformat()}

    @guarded.post("/v1/leads/{lead_id}/accept",
                  summary="The rep accepts the lead (stops the clock like a touch)")
    async def post_accept(lead_id: str, body: Accept) -> dict[str, Any]:
        lead_id = lead_id_param(lead_id)
        at = body.at or rt.now()
        obs = Observations()
        async with db.transaction(rt.engine) as conn:
            lead = await _lead_or_404(conn, lead_id)
            result = await accept_lead(conn, lead, body.rep_id, at, obs)
            await rt.publisher.publish(result.outgoing)
        obs.record()
        return {"lead_id": lead_id, "status": "accepted", "sla": result.status,
                "at": at.isoformat()}

    @guarded.post("/v1/leads/{lead_id}/reject",
                  summary="The rep rejects the lead: back to nurture with the reason")
    async def post_reject(lead_id: str, body: Reject) -> dict[str, Any]:
        lead_id = lead_id_param(lead_id)
        at = body.at or rt.now()
        async with db.transaction(rt.engine) as conn:
            org = await rt.org.current(conn)
            lead = await _lead_or_404(conn, lead_id)
            result = await reject_lead(conn, org, lead, body.rep_id, body.reason.strip(), at)
            if result.status in ("not_with_a_rep", "not_this_rep"):
                raise _not_rejectable(result.assignment)
            await rt.publisher.publish(result.outgoing)
        return {"lead_id": lead_id, "status": result.status, "assignment": result.assignment}

    @guarded.get("/v1/reps", summary="Reps, their availability and open assignments")
    async def get_reps() -> list[dict[str, Any]]:
        async with db.connection(rt.engine) as conn:
            org = await rt.org.current(conn)
            avail = await store.load_availability(conn)
        now = rt.now()
        reps = []
        for team in org.teams:
            for rep in team.reps:
                problem = rep_problem(rep, team, avail, now, frozenset())
                reps.append({"rep_id": rep.id, "name": rep.name, "team_id": team.id,
                             "available": rep.id not in avail.unavailable,
                             "on_leave": rep.on_leave(now.astimezone(team.zone).date()),
                             "capacity": rep.capacity,
                             "open_assignments": avail.open_counts.get(rep.id, 0),
                             "eligible_now": problem is None, "why_not": problem})
        return reps

    @guarded.patch("/v1/reps/{rep_id}", summary="Mark a rep available or out of office")
    async def patch_rep(rep_id: str, body: RepPatch) -> dict[str, Any]:
        async with db.transaction(rt.engine) as conn:
            org = await rt.org.current(conn)
            if org.rep(rep_id) is None:
                raise HTTPException(404, {"error": "not found",
                                          "reason": f"no rep {rep_id!r} in the org file"})
            await store.set_rep_available(conn, rep_id, body.available)
        return {"rep_id": rep_id, "available": body.available}

    @router.get("/", response_class=HTMLResponse, summary="The ops page")
    async def ops_page(request: Request, key: Annotated[str | None, Query()] = None) -> str:
        if not (bearer_ok(request, rt.settings.admin_key) or
                (key is not None and token_matches(key, rt.settings.admin_key))):
            raise HTTPException(401, {"error": "unauthorized",
                                      "reason": "open /?key=<LEADFLOW_ADMIN_KEY>"})
        return await render_ops(rt)

    guarded.include_router(queue_routes(rt))
    router.include_router(guarded)
    return router


def _worked_by(worked_by: dict[str, Any] | None) -> str:
    return "; ".join(f"{k} {v if isinstance(v, str) else ', '.join(v)}"
                     for k, v in (worked_by or {}).items())


def _age(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.0f} min"


async def render_ops(rt: Runtime) -> str:
    async with db.connection(rt.engine) as conn:
        org = await rt.org.current(conn)
        avail = await store.load_availability(conn)
        kinds = (await conn.execute(text(
            "SELECT kind, coalesce(team_id, track, queue, '') AS target, count(*) AS n "
            "FROM route.assignments GROUP BY 1, 2 ORDER BY 3 DESC"))).all()
        timers = (await conn.execute(text(
            "SELECT state, count(*) AS n FROM route.sla_timers GROUP BY 1 ORDER BY 1"))).all()
        queues = await queues_view(conn, org, rt.now())
    esc = html.escape
    queue_rows = "".join(
        f"<tr><td>{esc(q['queue'])}</td><td>{q['depth']}</td><td>{_age(q['oldest_age_s'])}</td>"
        f"<td>{esc(_worked_by(q['worked_by']))}</td>"
        f"<td>{'dealt' if q['dealt'] else 'claimed by hand'}</td></tr>" for q in queues)
    rep_rows = "".join(
        f"<tr><td>{esc(team.id)}</td><td>{esc(rep.id)}</td><td>{esc(rep.name or '')}</td>"
        f"<td>{'no' if rep.id in avail.unavailable else 'yes'}</td>"
        f"<td>{avail.open_counts.get(rep.id, 0)}</td></tr>"
        for team in org.teams for rep in team.reps)
    kind_rows = "".join(f"<tr><td>{esc(r.kind)}</td><td>{esc(r.target)}</td><td>{r.n}</td></tr>"
                        for r in kinds)
    timer_rows = "".join(f"<tr><td>{esc(r.state)}</td><td>{r.n}</td></tr>" for r in timers)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>leadflow ops</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;
margin-bottom:2em}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}</style>
</head><body><h1>leadflow ops</h1><p>org file version {esc(org.version)}; metrics at
<code>/metrics</code> on each service.</p>
<h2>Reps</h2><table><tr><th>team</th><th>rep</th><th>name</th><th>available</th>
<th>open SLA clocks</th></tr>{rep_rows}</table>
<h2>Queues</h2><table><tr><th>queue</th><th>waiting</th><th>oldest</th><th>worked by</th>
<th></th></tr>{queue_rows}</table>
<h2>Assignments</h2><table><tr><th>kind</th><th>team / track / queue</th><th>leads</th></tr>
{kind_rows}</table>
<h2>SLA clocks</h2><table><tr><th>state</th><th>count</th></tr>{timer_rows}</table>
</body></html>"""
