"""Group commit: concurrent callers share one flush, each gets its own result, and a failed
flush fails exactly the callers in it."""

from __future__ import annotations

import asyncio

import pytest

from shared.batcher import Batcher


class Store:
    """A fake flush target that records each call; `fail_on` makes a batch holding that
    item fail; `hold` keeps a flush in flight until released."""

    def __init__(self, fail_on: str | None = None, hold: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        if not hold:
            self.release.set()

    async def flush(self, items: list[str]) -> list[str]:
        self.calls.append(list(items))
        self.entered.set()
        await self.release.wait()
        if self.fail_on is not None and self.fail_on in items:
            raise ConnectionError(f"database went away writing {len(items)} receipts")
        return [item.upper() for item in items]


async def test_concurrent_submits_are_flushed_together_in_one_call() -> None:
    store = Store()
    batcher = Batcher(store.flush)

    results = await asyncio.gather(*(batcher.submit(f"lead-{i}") for i in range(50)))

    assert store.calls == [[f"lead-{i}" for i in range(50)]]
    assert results == [f"LEAD-{i}" for i in range(50)]


async def test_each_caller_gets_the_result_for_its_own_item() -> None:
    store = Store()
    batcher = Batcher(store.flush)

    async def caller(item: str, delay: float) -> tuple[str, str]:
        await asyncio.sleep(delay)
        return item, await batcher.submit(item)

    pairs = await asyncio.gather(*(caller(f"r{i}", (i % 3) * 0.001) for i in range(30)))

    assert all(result == item.upper() for item, result in pairs)
    assert sorted(i for call in store.calls for i in call) == sorted(f"r{i}" for i in range(30))


async def test_a_lone_submit_is_flushed_at_once() -> None:
    store = Store()
    batcher = Batcher(store.flush)

    assert await asyncio.wait_for(batcher.submit("only"), timeout=1) == "ONLY"
    assert store.calls == [["only"]]


async def test_items_arriving_during_a_flush_ride_the_next_one_together() -> None:
    store = Store(hold=True)
    batcher = Batcher(store.flush)
    first = asyncio.ensure_future(batcher.submit("a"))
    await store.entered.wait()

    later = [asyncio.ensure_future(batcher.submit(x)) for x in ("b", "c", "d")]
    await asyncio.sleep(0.01)
    store.release.set()

    assert await first == "A"
    assert await asyncio.gather(*later) == ["B", "C", "D"]
    assert store.calls == [["a"], ["b", "c", "d"]]


@pytest.mark.parametrize(("count", "max_size", "sizes"),
                         [(1200, 500, [500, 500, 200]), (10, 3, [3, 3, 3, 1]), (4, 4, [4])])
async def test_batches_never_exceed_max_size(count: int, max_size: int, sizes: list[int]) -> None:
    store = Store()
    batcher = Batcher(store.flush, max_size=max_size)

    results = await asyncio.gather(*(batcher.submit(f"x{i}") for i in range(count)))

    assert [len(call) for call in store.calls] == sizes
    assert results == [f"X{i}" for i in range(count)]


async def test_a_failed_flush_reaches_every_waiter_of_that_batch() -> None:
    store = Store(fail_on="bad")
    batcher = Batcher(store.flush)

    outcomes = await asyncio.gather(*(batcher.submit(x) for x in ("a", "bad", "c")),
                                    return_exceptions=True)

    assert len(store.calls) == 1
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert outcomes[0] is outcomes[1] is outcomes[2]  # one failure, told to each waiter


async def test_the_batch_after_a_failed_one_still_works() -> None:
    store = Store(fail_on="bad", hold=True)
    batcher = Batcher(store.flush)
    doomed = [asyncio.ensure_future(batcher.submit(x)) for x in ("a", "bad")]
    await store.entered.wait()
    queued = [asyncio.ensure_future(batcher.submit(x)) for x in ("c", "d")]
    await asyncio.sleep(0)
    store.release.set()

    failed = await asyncio.gather(*doomed, return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in failed)
    assert await asyncio.gather(*queued) == ["C", "D"]
    assert await batcher.submit("e") == "E"
    assert store.calls == [["a", "bad"], ["c", "d"], ["e"]]


async def test_a_caller_who_gives_up_does_not_break_the_batch() -> None:
    store = Store(hold=True)
    batcher = Batcher(store.flush)
    impatient = asyncio.ensure_future(batcher.submit("a"))
    patient = asyncio.ensure_future(batcher.submit("b"))
    await store.entered.wait()

    impatient.cancel()
    store.release.set()

    assert await patient == "B"
    assert impatient.cancelled()
    assert await batcher.submit("c") == "C"


async def test_a_flush_returning_the_wrong_number_of_results_fails_its_callers() -> None:
    async def short_flush(items: list[str]) -> list[str]:
        return [item.upper() for item in items[:-1]]

    batcher = Batcher(short_flush)

    outcomes = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(x) for x in ("a", "b", "c")), return_exceptions=True),
        timeout=1)

    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
    assert "2 results for 3 items" in str(outcomes[0])


async def test_the_batcher_still_works_after_a_flush_returned_too_many_results() -> None:
    calls = 0

    async def flush(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        return [item.upper() for item in items] + (["extra"] if calls == 1 else [])

    batcher = Batcher(flush)

    with pytest.raises(RuntimeError, match="flush returned 2 results"):
        await asyncio.wait_for(batcher.submit("a"), timeout=1)
    assert await asyncio.wait_for(batcher.submit("b"), timeout=1) == "B"
