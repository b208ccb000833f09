"""Score's HTTP surface: a lead's score breakdown."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from services.score import store
from shared import db
from shared.service import Runtime


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["score"])

    @router.get("/v1/leads/{lead_id}/score", summary="A lead's score and its reasons")
    async def get_score(lead_id: str) -> dict[str, object]:
        if not _is_uuid(lead_id):
            raise HTTPException(422, {"error": "invalid request",
                                      "errors": [{"field": "lead_id", "reason": "not a UUID"}]})
        async with db.connection(rt.engine) as conn:
            score = await store.load_score(conn, lead_id)
        if score is None:
            raise HTTPException(404, {"error": "not found", "reason": f"no score for {lead_id}"})
        return score

    return router


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False
