"""Score's HTTP surface: a lead's score breakdown (bearer `LEADFLOW_ADMIN_KEY`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from services.score import store
from shared import db
from shared.auth import lead_id_param, require_bearer
from shared.service import Runtime


def build_router(rt: Runtime) -> APIRouter:
    def admin(request: Request) -> None:
        require_bearer(request, rt.settings.admin_key)

    # A score says what a person did; like route's admin API it takes the admin key.
    router = APIRouter(tags=["score"], dependencies=[Depends(admin)])

    @router.get("/v1/leads/{lead_id}/score", summary="A lead's score and its reasons")
    async def get_score(lead_id: str) -> dict[str, object]:
        lead_id = lead_id_param(lead_id)
        async with db.connection(rt.engine) as conn:
            score = await store.load_score(conn, lead_id)
        if score is None:
            raise HTTPException(404, {"error": "not found", "reason": f"no score for {lead_id}"})
        return score

    return router
