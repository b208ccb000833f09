"""Plain Kafka clients for tests: produce records and read a topic from the beginning."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared.events import CONTENT_TYPE_HEADER, Event
from shared.settings import Settings


async def produce(settings: Settings, topic: str,
                  records: list[tuple[bytes | None, bytes | None]]) -> None:
    """(key, value) pairs to the prefixed topic, acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                                enable_idempotence=False)
    await producer.start()
    try:
        futures = [await producer.send(settings.topic(topic), value=v, key=k,
                                       headers=[CONTENT_TYPE_HEADER]) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_events(settings: Settings, topic: str, events: list[Event]) -> None:
    await produce(settings, topic, [(e.data["person_key"].encode(), e.encode()) for e in events])


async def read_topic(settings: Settings, topic: str, *, expect: int, timeout: float = 30,
                     settle: float = 0.0) -> list[ConsumerRecord]:
    """All records of a topic from the start, waiting until at least `expect` arrived (then
    `settle` seconds more, to catch unwanted extras)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        name = settings.topic(topic)
        parts = consumer.partitions_for_topic(name)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(records)
            if len(out) >= expect and settle_until is None:
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
        return out
    finally:
        await consumer.stop()


def values(records: list[ConsumerRecord]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records]
