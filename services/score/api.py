"""Score's HTTP surface: a lead's score breakdown."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from services.score import store
from shared import db
from shared.auth import lead_id_param
from shared.service import Runtime


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["score"])

    @router.get("/v1/leads/{lead_id}/score", summary="A lead's score and its reasons")
    async def get_score(lead_id: str) -> dict[str, object]:
        lead_id = lead_id_param(lead_id)
        async with db.connection(rt.engine) as conn:
            score = await store.load_score(conn, lead_id)
        if score is None:
            raise HTTPException(404, {"error": "not found", "reason": f"no score for {lead_id}"})
        return score

    return router
