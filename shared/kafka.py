"""The Kafka boundary: clients configured the way leadflow relies on, topic creation,
and the mapping of aiokafka faults to `RetryableError`.

Producers use acks=all and no idempotence (Tansu has no InitProducerId), so delivery is
at least once and every handler is idempotent. Consumers never auto-commit and use the
range assignor, so one person's records from several topics (same key, same partition
count, default partitioner) land in the same consumer.
"""

from __future__ import annotations

import asyncio
import logging
import random

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from murmurhash2 import murmurhash2

from shared import topics
from shared.errors import RetryableError
from shared.settings import Settings

log = logging.getLogger("leadflow.kafka")

TOPIC_EXISTS = 36


class Partitioner:
    """Kafka's default partitioner (murmur2 of the key, positive, modulo the partition
    count; a random available partition for no key), as every Kafka client computes it,
    with murmur2 from a C extension: aiokafka's pure-Python murmur2 costs ~14 us a
    record, more than the rest of a hop's per-record work."""

    SEED = 0x9747B28C

    def __call__(self, key: bytes | None, all_partitions: list[int],
                 available: list[int]) -> int:
        if key is None:
            return random.choice(available or all_partitions)
        index = (murmurhash2(key, self.SEED) & 0x7FFFFFFF) % len(all_partitions)
        return all_partitions[index]


PARTITIONER = Partitioner()


def make_producer(settings: Settings, linger_ms: int | None = None) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        partitioner=PARTITIONER,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        linger_ms=settings.linger_ms if linger_ms is None else linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
        client_id="leadflow",
    )


def make_consumer(settings: Settings, group_id: str | None, *topic_names: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topic_names,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_poll_records=settings.max_batch,
        partition_assignment_strategy=(RangePartitionAssignor,),
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(100, settings.session_timeout_ms // 10),
        # The broker waits this long for known members to rejoin a rebalance; a member
        # that left without a LeaveGroup would otherwise hold the group for minutes.
        rebalance_timeout_ms=settings.rebalance_timeout_ms,
        max_poll_interval_ms=60000,
        client_id="leadflow",
    )


async def start_client(client: AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient,
                       *, attempts: int = 30) -> None:
    """Start a client, waiting for the broker to come up (transient at boot)."""
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            await client.start()
            return
        except (KafkaError, OSError) as exc:
            if attempt == attempts:
                raise RetryableError(f"broker unreachable: {exc}") from exc
            log.warning("broker not reachable yet (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def ensure_topics(settings: Settings, names: tuple[str, ...] = topics.ALL) -> list[str]:
    """Create missing topics with the configured partition count; return those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                client_id="leadflow-admin")
    await start_client(admin)
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.topic(n) for n in names]
        missing = [t for t in wanted if t not in existing]
        if missing:
            resp = await admin.create_topics(
                [NewTopic(t, settings.topic_partitions, 1) for t in missing]
            )
            for name, code, message in _topic_errors(resp):
                if code not in (0, TOPIC_EXISTS):
                    raise RetryableError(f"could not create topic {name}: {code} {message}")
        return missing
    finally:
        await admin.close()


def _topic_errors(resp: object) -> list[tuple[str, int, str | None]]:
    out = []
    for err in getattr(resp, "topic_errors", []):
        name, code = err[0], err[1]
        message = err[2] if len(err) > 2 else None
        out.append((name, code, message))
    return out


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or exc.__class__.__name__ in {
            "KafkaConnectionError", "KafkaTimeoutError", "RequestTimedOutError",
            "NodeNotReadyError", "NotLeaderForPartitionError", "LeaderNotAvailableError",
            "UnknownTopicOrPartitionError", "NotEnoughReplicasError",
        }
    return isinstance(exc, (OSError, asyncio.TimeoutError))
