"""Group commit: many concurrent callers, one round trip.

Capture answers each HTTP request on its own, but writes its receipts in batches: a
caller submits an item and awaits its result; items that arrive while a flush is in
flight ride the next one. At low load a flush holds one item and adds no delay; under
load, batches grow by themselves (asyncpg: ~3,500 single-row upserts/s against tens of
thousands per second in batches).

A flush returns one result per item, in order; a flush that raises, or returns another
number of results, fails every caller of its batch with that error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(self, flush: Callable[[list[T]], Awaitable[list[R]]], max_size: int = 500) -> None:
        self._flush = flush
        self._max = max_size
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let callers scheduled in this loop turn join the batch
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max:]
            try:
                results = await self._flush([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"flush returned {len(results)} results "
                                       f"for {len(batch)} items")
            except BaseException as exc:  # every waiter learns of the failure
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
