"""Reading topics for people: `leadflow tail` and `leadflow dlq replay`."""

from __future__ import annotations

import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import kafka, topics
from shared.errors import ConfigError
from shared.events import CONTENT_TYPE_HEADER, decode_event
from shared.loop import Publisher
from shared.settings import Settings


def summarize(value: bytes | None) -> str:
    """One line per event: when, what, which lead, and what was decided."""
    try:
        event = decode_event(value)
    except Exception:  # noqa: BLE001 - not an event: print it raw
        return (value or b"").decode("utf-8", "replace")
    d: dict[str, Any] = event.data
    parts = [event.time[11:23], f"{event.type:<16}", d.get("lead_id", "")[:8]]
    contact = d.get("contact") or {}
    who = contact.get("email") or contact.get("phone")
    if who:
        parts.append(who)
    score = d.get("score")
    if score:
        parts.append(f"{score.get('temperature')} {score.get('points')}pts {score.get('stage')}")
    a = d.get("assignment")
    if a and event.type.startswith("lead."):
        target = {"rep": f"rep {a.get('rep_id')} ({a.get('team_id')})",
                  "nurture": f"nurture {a.get('track')}",
                  "queue": f"queue {a.get('queue')}"}.get(a.get("kind"), str(a.get("kind")))
        parts.append(f"-> {target} [{a.get('reason') or a.get('rule')}]")
    if event.type.startswith("sla."):
        parts.append(f"due {d.get('due_at')}")
    return "  ".join(str(p) for p in parts)


async def _assigned_consumer(settings: Settings, topic: str
                             ) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    consumer = kafka.make_consumer(settings, None)
    await kafka.start_client(consumer)
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer.stop()
        raise ConfigError(f"topic {topic} does not exist (known: {', '.join(topics.ALL)})")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    return consumer, tps


async def tail(settings: Settings, name: str, *, from_beginning: bool = False,
               raw: bool = False, limit: int = 0) -> int:
    topic = name if name.startswith(settings.topic_prefix) else settings.topic(name)
    consumer, tps = await _assigned_consumer(settings, topic)
    if from_beginning:
        await consumer.seek_to_beginning(*tps)
    else:
        await consumer.seek_to_end(*tps)
    print(f"-- tailing {topic} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    seen = 0
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            records = sorted((r for rs in batches.values() for r in rs), key=lambda r: r.timestamp)
            for record in records:
                if raw:
                    sys.stdout.write((record.value or b"").decode("utf-8", "replace") + "\n")
                else:
                    sys.stdout.write(summarize(record.value) + "\n")
                seen += 1
                if limit and seen >= limit:
                    sys.stdout.flush()
                    return 0
            sys.stdout.flush()
    finally:
        await consumer.stop()


async def replay_dead_letters(settings: Settings, limit: int = 0) -> int:
    """Send dead letters back to the topic they came from, without the dlq headers; the
    replay group's committed offset means each dead letter is replayed once."""
    consumer = kafka.make_consumer(settings, f"{settings.topic_prefix}leadflow-dlq-replay",
                                   settings.topic(topics.DLQ))
    await kafka.start_client(consumer)
    producer = kafka.make_producer(settings)
    await kafka.start_client(producer)
    publisher = Publisher(producer, settings)
    replayed = 0
    try:
        idle = 0
        while idle < 3 and not (limit and replayed >= limit):
            batches = await consumer.getmany(timeout_ms=1000)
            records = [r for rs in batches.values() for r in rs]
            if limit:
                records = records[: limit - replayed]
            if not records:
                idle += 1
                continue
            idle = 0
            out = []
            for r in records:
                headers = dict(r.headers or ())
                original = headers.get("leadflow.dlq.topic", b"").decode() or None
                if not original:
                    continue
                keep = [(k, v) for k, v in (r.headers or ()) if not k.startswith("leadflow.dlq.")]
                if not any(k == CONTENT_TYPE_HEADER[0] for k, _ in keep):
                    keep.append(CONTENT_TYPE_HEADER)
                out.append((original, r.key, r.value, keep))
            await publisher.send_raw(out)
            await consumer.commit({TopicPartition(r.topic, r.partition): r.offset + 1
                                   for r in records})
            replayed += len(out)
    finally:
        await consumer.stop()
        await producer.stop()
    return replayed
