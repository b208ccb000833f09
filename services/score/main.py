"""Score's composition root: one consume loop over `leads.enriched` and `leads.activity`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.score.api import build_router
from services.score.handlers import handle_score_batch, rescore_cooled
from shared import topics
from shared.errors import RetryableError
from shared.events import Event, Outgoing
from shared.loop import ConsumeLoop
from shared.service import Parts, Runtime

log = logging.getLogger("leadflow.score")


def build(rt: Runtime) -> Parts:
    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_score_batch(batch, rt)

    # One group over both topics (range assignor): a person's lead and later activities
    # share a partition number, so they meet in the same consumer, in order.
    loop = ConsumeLoop(service="score", topic_names=(topics.ENRICHED, topics.ACTIVITY),
                       handler=handler,
                       settings=rt.settings, producer=rt.producer)

    async def decay(stop: asyncio.Event) -> None:
        """Every LEADFLOW_DECAY_EVERY_S, re-score the people whose behaviour has cooled."""
        while not stop.is_set():
            try:
                changed = await rescore_cooled(rt)
                if changed:
                    log.info("decay pass: %d lead(s) changed stage or temperature", changed)
            except (RetryableError, TimeoutError) as exc:
                log.warning("decay pass postponed: %s", exc)
            except Exception:
                log.exception("decay pass failed; trying again next period")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rt.settings.decay_every_s)

    return Parts(router=build_router(rt), loops=[loop], tasks=[decay],
                 description="Scores leads by fit and behaviour.")
