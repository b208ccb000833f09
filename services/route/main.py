"""Route's composition root: the consume loop over `leads.scored` and `leads.activity`,
the SLA timer loop (reminders, breaches), the notification sender, the queue dealer and the
admin API."""

from __future__ import annotations

import asyncio

from services.route.api import build_router
from services.route.dealing import run_dealer
from services.route.handlers import handle_route_batch
from services.route.notify import run_notifier
from services.route.timers import run_timers
from shared import topics
from shared.events import Event, Outgoing
from shared.loop import ConsumeLoop
from shared.service import Parts, Runtime


def build(rt: Runtime) -> Parts:
    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_route_batch(batch, rt)

    async def timers(stop: asyncio.Event) -> None:
        await run_timers(rt, stop)

    async def notifier(stop: asyncio.Event) -> None:
        await run_notifier(rt, stop)

    async def dealer(stop: asyncio.Event) -> None:
        await run_dealer(rt, stop)

    loop = ConsumeLoop(service="route", topic_names=(topics.SCORED, topics.ACTIVITY),
                       handler=handler, settings=rt.settings, producer=rt.producer)
    return Parts(router=build_router(rt), loops=[loop], tasks=[timers, notifier, dealer],
                 description="Assigns leads to reps or nurture and runs SLA clocks.")

