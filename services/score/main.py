"""Score's composition root: one consume loop over `leads.enriched` and `leads.activity`."""

from __future__ import annotations

from services.score.api import build_router
from services.score.handlers import handle_score_batch
from shared import topics
from shared.events import Event, Outgoing
from shared.loop import ConsumeLoop
from shared.service import Parts, Runtime


def build(rt: Runtime) -> Parts:
    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_score_batch(batch, rt)

    # One group over both topics (range assignor): a person's lead and later activities
    # share a partition number, so they meet in the same consumer, in order.
    loop = ConsumeLoop(service="score", topic_names=(topics.ENRICHED, topics.ACTIVITY),
                       handler=handler,
                       settings=rt.settings, producer=rt.producer)
    return Parts(router=build_router(rt), loops=[loop],
                 description="Scores leads by fit and behaviour.")
