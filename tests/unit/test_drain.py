"""The shared drain every background pass runs on (SLA timers, notifications, capture's
retention, score's decay): a transient fault is retried, a bug ends the task, a stop is
honoured between passes."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import RetryableError
from shared.service import drain_until_stopped


async def test_a_database_fault_is_retried_and_the_pass_goes_on() -> None:
    stop = asyncio.Event()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RetryableError("database restarting")
        stop.set()
        return 0

    await asyncio.wait_for(drain_until_stopped(stop, "test", 0.01, work, 10), 10)
    assert calls == 3


async def test_full_batches_are_drained_at_once_then_the_pass_waits() -> None:
    stop = asyncio.Event()
    done: list[int] = []

    async def work() -> int:
        done.append(10 if len(done) < 3 else 2)
        if len(done) == 4:
            stop.set()
        return done[-1]

    # A tick of an hour: only full batches may run again before the stop.
    await asyncio.wait_for(drain_until_stopped(stop, "test", 3600, work, 10), 5)
    assert done == [10, 10, 10, 2]


async def test_a_bug_ends_the_task_for_the_supervisor_to_see() -> None:
    async def work() -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(drain_until_stopped(asyncio.Event(), "test", 0.01, work, 10), 5)


async def test_a_stop_ends_the_wait_between_passes() -> None:
    stop = asyncio.Event()

    async def work() -> int:
        return 0

    task = asyncio.create_task(drain_until_stopped(stop, "test", 3600, work, 10))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
