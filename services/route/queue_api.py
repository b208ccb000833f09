"""Route's queue and worklist API (admin key): claim a queued lead, assign any lead by
hand, the queues overview and the lead list. The logic is `manual.py`'s and
`worklists.py`'s; this module is HTTP: bodies, parameters and errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from services.route.assignments import Observations
from services.route.manual import Moved, RefusedError, assign_lead, claim_lead
from services.route.outbox import publish_committed
from services.route.worklists import (
    MAX_LIMIT,
    BadCursorError,
    LeadFilter,
    Status,
    list_leads,
    queues_view,
)
from shared import db, metrics
from shared.auth import lead_id_param
from shared.service import Runtime


class Claim(BaseModel):
    rep_id: str = Field(min_length=1, max_length=200)


class Assign(BaseModel):
    """Exactly one of `rep_id`, `team_id` or `queue`, and why."""

    rep_id: str | None = Field(None, min_length=1, max_length=200)
    team_id: str | None = Field(None, min_length=1, max_length=200)
    queue: str | None = Field(None, min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500, examples=["key account, Ana knows them"])

    @model_validator(mode="after")
    def _one_target(self) -> Assign:
        given = [k for k in ("rep_id", "team_id", "queue") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of rep_id, team_id or queue"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


def _refused(exc: RefusedError) -> HTTPException:
    kinds = {403: "forbidden", 404: "not found", 409: "conflict", 422: "invalid request"}
    if exc.status == 422:
        return HTTPException(422, {"error": "invalid request",
                                   "errors": [{"field": exc.field, "reason": exc.reason}]})
    return HTTPException(exc.status, {"error": kinds.get(exc.status, "refused"),
                                      "field": exc.field, "reason": exc.reason})


async def _moved(rt: Runtime, lead_id: str, moved: Moved, how: str) -> dict[str, Any]:
    """The committed move, published (`published` false: the broker did not take it in
    time; the outbox sweep will, the move stands)."""
    if moved.waited is not None:
        queue, seconds = moved.waited
        metrics.QUEUE_WAIT.labels(queue).observe(seconds)
        metrics.QUEUE_DEALT.labels(queue, how).inc()
    published = await publish_committed(
        rt, moved.outgoing, [(lead_id, moved.assignment["attempt"])] if moved.outgoing else [])
    return {"lead_id": lead_id, "status": moved.status, "assignment": moved.assignment,
            "published": published}


def _invalid(field: str, reason: str) -> HTTPException:
    return HTTPException(422, {"error": "invalid request",
                               "errors": [{"field": field, "reason": reason}]})


def queue_routes(rt: Runtime) -> APIRouter:
    """The routes; the caller mounts them behind the admin key."""
    router = APIRouter(tags=["route"])

    @router.post("/v1/leads/{lead_id}/claim",
                  summary="A rep takes a lead waiting in a queue (409 if someone has it)")
    async def post_claim(lead_id: str, body: Claim) -> dict[str, Any]:
        lead_id = lead_id_param(lead_id)
        now = rt.now()
        obs = Observations()
        try:
            async with db.transaction(rt.engine) as conn:
                org = await rt.org.current(conn)
                moved = await claim_lead(conn, org, lead_id, body.rep_id, now, obs)
        except RefusedError as exc:
            raise _refused(exc) from None
        obs.record()
        return await _moved(rt, lead_id, moved, "claimed")

    @router.post("/v1/leads/{lead_id}/assign",
                  summary="Move any lead to a rep, a team or a queue, with the reason")
    async def post_assign(lead_id: str, body: Assign) -> dict[str, Any]:
        lead_id = lead_id_param(lead_id)
        now = rt.now()
        obs = Observations()
        try:
            async with db.transaction(rt.engine) as conn:
                org = await rt.org.current(conn)
                moved = await assign_lead(conn, org, lead_id, rep_id=body.rep_id,
                                          team_id=body.team_id, queue=body.queue,
                                          reason=body.reason.strip(), now=now, obs=obs)
        except RefusedError as exc:
            raise _refused(exc) from None
        obs.record()
        return await _moved(rt, lead_id, moved, "assigned")

    @router.get("/v1/queues", summary="Each queue: depth, oldest and hottest lead, who works it")
    async def get_queues() -> list[dict[str, Any]]:
        async with db.connection(rt.engine) as conn:
            org = await rt.org.current(conn)
            return await queues_view(conn, org, rt.now())

    @router.get("/v1/leads", summary="Leads by state, newest first (worklists, queues)")
    async def get_leads(
        status: Status | None = None,
        queue: Annotated[str | None, Query(max_length=200)] = None,
        team: Annotated[str | None, Query(max_length=200)] = None,
        rep: Annotated[str | None, Query(max_length=200)] = None,
        temperature: Literal["hot", "warm", "cold"] | None = None,
        source: Annotated[str | None, Query(max_length=200,
                                            description="the lead's provider")] = None,
        utm_source: Annotated[str | None, Query(max_length=200)] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        limit: Annotated[int, Query(ge=1, description=f"at most {MAX_LIMIT}")] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> dict[str, Any]:
        if since is not None and until is not None and until <= since:
            raise _invalid("until", "must be after since")
        f = LeadFilter(status, queue, team, rep, temperature, source, utm_source, since, until)
        try:
            async with db.connection(rt.engine) as conn:
                return await list_leads(conn, f, limit, cursor, rt.now())
        except BadCursorError as exc:
            raise _invalid("cursor", str(exc)) from None

    return router
