"""Score's composition root: one consume loop over `leads.enriched` and `leads.activity`."""

from __future__ import annotations

import asyncio

from services.score.api import build_router
from services.score.handlers import DECAY_PAGE, DecayPass, handle_score_batch
from shared import topics
from shared.events import Event, Outgoing
from shared.loop import ConsumeLoop
from shared.service import Parts, Runtime, drain_until_stopped


def build(rt: Runtime) -> Parts:
    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_score_batch(batch, rt)

    # One group over both topics (range assignor): a person's lead and later activities
    # share a partition number, so they meet in the same consumer, in order.
    loop = ConsumeLoop(service="score", topic_names=(topics.ENRICHED, topics.ACTIVITY),
                       handler=handler,
                       settings=rt.settings, producer=rt.producer)

    decay = DecayPass(rt)

    async def decay_pass(stop: asyncio.Event) -> None:
        """Every LEADFLOW_DECAY_EVERY_S, re-score the people whose behaviour has cooled,
        a page at a time (at once again while pages come back full)."""
        await drain_until_stopped(stop, "decay pass", rt.settings.decay_every_s, decay.page,
                                  DECAY_PAGE)

    return Parts(router=build_router(rt), loops=[loop], tasks=[decay_pass],
                 description="Scores leads by fit and behaviour.")
