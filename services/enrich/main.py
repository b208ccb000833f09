"""Enrich's composition root: one consume loop over `leads.captured`."""

from __future__ import annotations

from services.enrich.handlers import handle_lead_captured
from shared import topics
from shared.events import Event, Outgoing
from shared.loop import ConsumeLoop
from shared.service import Parts, Runtime


def build(rt: Runtime) -> Parts:
    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_lead_captured(batch, rt)

    loop = ConsumeLoop(service="enrich", topic_names=(topics.CAPTURED,), handler=handler,
                       settings=rt.settings, producer=rt.producer)
    return Parts(loops=[loop], description="Normalizes leads and links persons and accounts.")
