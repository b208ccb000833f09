"""Enrich's composition root: one consume loop over `leads.captured`, and the
firmographics provider the settings choose (closed when the service stops)."""

from __future__ import annotations

import asyncio

from services.enrich.adapters.firmographics import Provider, make_provider
from services.enrich.handlers import handle_lead_captured
from services.enrich.store import AccountNames
from shared import topics
from shared.events import Event, Outgoing
from shared.loop import ConsumeLoop
from shared.service import Parts, Runtime


def build(rt: Runtime, provider: Provider | None = None) -> Parts:
    chosen = provider or make_provider(rt.settings, rt.engine)
    names = AccountNames()

    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_lead_captured(batch, rt, chosen, names)

    async def close_provider(stop: asyncio.Event) -> None:
        await stop.wait()
        await chosen.close()

    loop = ConsumeLoop(service="enrich", topic_names=(topics.CAPTURED,), handler=handler,
                       settings=rt.settings, producer=rt.producer)
    return Parts(loops=[loop], tasks=[close_provider],
                 description="Normalizes leads, adds firmographics, links persons and "
                             "accounts.")
