"""Score's composition root: one consume loop over `leads.enriched`."""

from __future__ import annotations

from services.score.api import build_router
from services.score.handlers import handle_lead_enriched
from shared import topics
from shared.events import Event, Outgoing
from shared.loop import ConsumeLoop
from shared.service import Parts, Runtime


def build(rt: Runtime) -> Parts:
    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_lead_enriched(batch, rt)

    loop = ConsumeLoop(service="score", topic_names=(topics.ENRICHED,), handler=handler,
                       settings=rt.settings, producer=rt.producer)
    return Parts(router=build_router(rt), loops=[loop],
                 description="Scores leads by fit and behaviour.")
