"""The shared consume loop on the real broker and database: redelivery after a crash
before commit, idempotent reprocessing, dead-lettering, transient retries, drain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from services.capture.intake import lead_from_payload
from services.enrich.handlers import handle_lead_captured
from shared import topics
from shared.errors import RetryableError
from shared.events import Event, Outgoing, make_event
from shared.loop import ConsumeLoop
from shared.service import Runtime
from shared.settings import Settings
from tests.builders import StartRuntime
from tests.kafka_tools import produce, produce_events, read_topic, values


def captured(email: str, **fields: object) -> Event:
    lead = lead_from_payload({"email": email, **fields}, provider="api", channel="api",
                             now=datetime.now(UTC))
    return make_event("lead.captured", "capture", lead.model_dump(mode="json"))


async def run_until(loop: ConsumeLoop, condition, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(loop.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if task.done():
                task.result()
            assert asyncio.get_running_loop().time() < deadline, "condition not reached"
            await asyncio.sleep(0.05)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 15)


async def until_ready(loop: ConsumeLoop, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not loop.ready():
        assert asyncio.get_running_loop().time() < deadline, "no partitions assigned"
        await asyncio.sleep(0.05)


async def left_for_a_new_member(rt: Runtime) -> list[Event]:
    """What a new member of the enrich group is handed: everything not yet committed."""
    seen: list[Event] = []

    async def record(batch: list[Event]) -> list[Outgoing]:
        seen.extend(batch)
        return []

    member = enrich_loop(rt, record)
    task = asyncio.create_task(member.run())
    await until_ready(member)
    await asyncio.sleep(1)
    member.stop()
    await asyncio.wait_for(task, 15)
    return seen


def enrich_loop(rt: Runtime, handler=None) -> ConsumeLoop:  # type: ignore[no-untyped-def]
    async def default(batch: list[Event]) -> list[Outgoing]:
        return await handle_lead_captured(batch, rt)

    return ConsumeLoop(service="enrich", topic_names=(topics.CAPTURED,),
                       handler=handler or default, settings=rt.settings, producer=rt.producer)


async def test_a_crash_before_commit_redelivers_the_batch_and_reprocessing_is_idempotent(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("enrich")
    events = [captured(f"crash{i}@crash-test.example", company="Crash Co") for i in range(5)]
    await produce_events(settings, topics.CAPTURED, events)

    handled: list[str] = []

    async def crash_after_handling(batch: list[Event]) -> list[Outgoing]:
        out = await handle_lead_captured(batch, rt)
        handled.extend(e.data["lead_id"] for e in batch)
        await rt.publisher.publish(out)
        raise asyncio.CancelledError  # the process dies before committing offsets

    first = enrich_loop(rt, crash_after_handling)
    task = asyncio.create_task(first.run())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert handled, "the first consumer saw the batch"

    second = enrich_loop(rt)
    await run_until(second, lambda: second.records >= len(events))
    out = await read_topic(settings, topics.ENRICHED, expect=len(events) * 2, settle=0.5)
    leads = values(out)
    ids = [e["data"]["lead_id"] for e in leads]
    # Redelivered: every lead handled by both consumers; idempotent: the same event ids
    # and one person per person key.
    assert sorted(set(ids)) == sorted(e.data["lead_id"] for e in events)
    by_lead: dict[str, set[str]] = {}
    for e in leads:
        by_lead.setdefault(e["data"]["lead_id"], set()).add(e["id"])
    assert all(len(v) == 1 for v in by_lead.values())
    async with rt.engine.connect() as conn:
        persons = (await conn.execute(text(
            "SELECT count(*) FROM enrich.persons WHERE person_key = ANY(:k)"),
            {"k": [e.data["person_key"] for e in events]})).scalar()
    assert persons == len(events)


async def test_poison_records_are_dead_lettered_and_the_partition_keeps_flowing(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("enrich")
    good = [captured(f"good{i}@dlq-test.example") for i in range(3)]
    bad_event = make_event("lead.captured", "capture",
                           {"lead_id": "not-a-lead", "person_key": "k"})
    key = good[0].data["person_key"].encode()
    # All on one partition (same key): garbage, a good lead, a poison event, more good.
    await produce(settings, topics.CAPTURED, [
        (key, b"\x00not json"), (key, good[0].encode()), (key, bad_event.encode()),
        (key, good[1].encode()), (key, good[2].encode()),
    ])
    loop = enrich_loop(rt)
    dlq: list = []

    async def poll_dlq() -> None:
        dlq[:] = await read_topic(settings, topics.DLQ, expect=2, timeout=20)

    await run_until(loop, lambda: loop.records >= 5)
    await poll_dlq()
    enriched = values(await read_topic(settings, topics.ENRICHED, expect=3))
    assert sorted(e["data"]["lead_id"] for e in enriched) == sorted(
        e.data["lead_id"] for e in good)
    assert len(dlq) == 2
    headers = [dict(r.headers) for r in dlq]
    assert {h["leadflow.dlq.service"] for h in headers} == {b"enrich"}
    assert all(h["leadflow.dlq.topic"] == settings.topic(topics.CAPTURED).encode()
               for h in headers)
    assert dlq[0].value == b"\x00not json"
    assert b"undecodable" in headers[0]["leadflow.dlq.error"]
    assert dlq[1].value == bad_event.encode()
    # Committed past everything: a new member of the group gets nothing again.
    assert await left_for_a_new_member(rt) == []


async def test_transient_faults_are_retried_and_never_dead_lettered(
        settings: Settings, runtime: StartRuntime) -> None:
    rt = await runtime("enrich")
    events = [captured(f"retry{i}@retry-test.example") for i in range(2)]
    await produce_events(settings, topics.CAPTURED, events)
    calls = {"n": 0}

    async def flaky(batch: list[Event]) -> list[Outgoing]:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise RetryableError("database unavailable (simulated)")
        return await handle_lead_captured(batch, rt)

    loop = enrich_loop(rt, flaky)
    await run_until(loop, lambda: loop.records >= len(events) and calls["n"] > 3)
    assert calls["n"] >= 4
    assert len(await read_topic(settings, topics.ENRICHED, expect=2)) >= 2
    assert await read_topic(settings, topics.DLQ, expect=1, timeout=2) == []


async def test_stop_finishes_the_batch_in_hand_and_commits_it(
        settings: Settings, runtime: StartRuntime) -> None:
    rt = await runtime("enrich")
    events = [captured(f"drain{i}@drain-test.example") for i in range(3)]
    await produce_events(settings, topics.CAPTURED, events)
    started = asyncio.Event()
    loop: ConsumeLoop

    async def slow(batch: list[Event]) -> list[Outgoing]:
        started.set()
        loop.stop()  # SIGTERM arrives while the batch is in hand
        await asyncio.sleep(0.5)
        return await handle_lead_captured(batch, rt)

    loop = enrich_loop(rt, slow)
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.wait_for(task, 15)
    # Settle: the batch's outputs may arrive over several fetches.
    handled_once = len(values(await read_topic(settings, topics.ENRICHED, expect=1,
                                               timeout=5, settle=1.5)))
    assert handled_once >= 1
    # What was handled was committed: a new member starts after it.
    assert len(await left_for_a_new_member(rt)) == len(events) - handled_once
