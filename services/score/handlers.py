"""Score's handler: score each enriched lead with the applied org file's model, keep the
score, and emit `lead.scored`."""

from __future__ import annotations

from services.score import store
from services.score.scoring import score_lead
from shared import db, topics
from shared.events import Event, Outgoing, derived_id, make_event
from shared.lead import check_lead
from shared.service import Runtime

SERVICE = "score"


async def handle_lead_enriched(batch: list[Event], rt: Runtime) -> list[Outgoing]:
    now = rt.now()
    leads = [check_lead(e.data) for e in batch if e.type == "lead.enriched"]
    if not leads:
        return []
    async with db.transaction(rt.engine) as conn:
        org = await rt.org.current(conn)
        for lead in leads:
            score = score_lead(lead, org.scoring, now, org.scoring_version)
            lead["score"] = {"points": score.points, "fit": score.fit,
                             "behaviour": score.behaviour, "temperature": score.temperature,
                             "stage": score.stage, "model": score.model,
                             "reasons": [{"rule": r.rule, "points": r.points, "kind": r.kind}
                                         for r in score.reasons]}
            lead.setdefault("timings", {})["scored_at"] = now.isoformat()
        await store.save_scores(conn, leads, now)
    return [
        Outgoing(topics.SCORED, lead["person_key"], make_event(
            "lead.scored", SERVICE, lead,
            event_id=derived_id(lead["lead_id"], "scored", lead["score"]["model"]), at=now))
        for lead in leads
    ]
