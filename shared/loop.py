"""The one consume -> decode -> handle -> produce -> commit loop all services share.

Its error behaviour, in the order the loop meets it (STYLE.md):

- A record that does not decode as a leadflow CloudEvent is permanent: dead-lettered.
- The handler gets every decoded event of one poll. A `RetryableError` (database or
  broker unreachable) means back off and call it again with the same batch; nothing is
  committed meanwhile and nothing is dead-lettered, however long it lasts.
- Any other exception from a whole batch: the loop handles the batch one record at a
  time, so one poison record cannot hold back its neighbours. A record that fails
  `max_attempts` times on its own goes to `leads.dlq` (original value, key and headers,
  plus `leadflow.dlq.*` headers saying which service failed, why and where the record
  came from), and its partition keeps flowing.
- Outputs are published with acks=all and every acknowledgement awaited; only then are
  the batch's offsets committed. A crash anywhere before the commit re-delivers the
  batch, which idempotent handlers turn into the same outputs.
- `stop()` (SIGTERM): no new poll; the batch in hand is finished, published and
  committed, then the consumer leaves its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError, KafkaTimeoutError
from aiokafka.structs import OffsetAndMetadata

from shared import kafka, metrics, topics
from shared.backoff import Backoff
from shared.errors import BrokerError, PermanentError, RetryableError
from shared.events import CONTENT_TYPE_HEADER, Event, Outgoing, decode_event
from shared.settings import Settings

log = logging.getLogger("leadflow.loop")

Handler = Callable[[list[Event]], Awaitable[list[Outgoing]]]
# A record as the producer takes it: topic, key, value, headers.
Record = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]

BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0
SMALL_PUBLISH = 8
REQUEST_TIMEOUT_S = 15.0  # as the producer's request_timeout_ms (shared.kafka)


@dataclass
class DeadLetter:
    record: ConsumerRecord
    error: str


@dataclass
class Publisher:
    """Publishes outgoing events and waits for every acknowledgement."""

    producer: AIOKafkaProducer
    settings: Settings

    async def publish(self, outgoing: list[Outgoing]) -> None:
        records: list[Record] = [
            (self.settings.topic(o.topic), o.key.encode(), o.event.encode(), [CONTENT_TYPE_HEADER])
            for o in outgoing
        ]
        await self.send_raw(records)

    async def send_raw(self, records: list[Record]) -> None:
        """Send and await acks; a transient broker fault re-sends the whole set (at least
        once: a record acked before the fault may be written twice)."""
        if not records:
            return
        backoff = Backoff(BACKOFF_START_S, BACKOFF_MAX_S)
        while True:
            try:
                if len(records) < SMALL_PUBLISH:
                    # Few records (capture's one lead per request): per-record sends let the
                    # producer's linger gather concurrent requests into one batch.
                    futures = [await self.producer.send(topic, value=value, key=key,
                                                        headers=headers)
                               for topic, key, value, headers in records]
                else:
                    futures = await self._send_batches(records)
                await asyncio.gather(*futures)
                return
            except (KafkaError, OSError) as exc:
                if not kafka.is_transient(exc):
                    raise BrokerError(f"publish refused: {exc!r}") from exc
                delay = backoff.next()
                log.warning("publish failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    async def _send_batches(self, records: list[Record]) -> list[asyncio.Future[object]]:
        """Group records by partition (the default partitioner, so keys land where any
        Kafka client would put them) and hand the producer whole batches: per-record
        `send()` costs more Python than the rest of a hop."""
        by_partition: dict[tuple[str, int], list[tuple[bytes | None, bytes | None,
                                                      list[tuple[str, bytes]]]]] = {}
        counts: dict[str, list[int]] = {}
        for topic, key, value, headers in records:
            if topic not in counts:
                counts[topic] = sorted(await self.producer.partitions_for(topic))
            partition = kafka.PARTITIONER(key, counts[topic], counts[topic])
            by_partition.setdefault((topic, partition), []).append((key, value, headers))
        futures: list[asyncio.Future[object]] = []
        for (topic, partition), items in by_partition.items():
            batch = self.producer.create_batch()
            for key, value, headers in items:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    futures.append(await self._enqueue(batch, topic, partition))
                    batch = self.producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None,
                                    headers=headers) is None:
                        raise PermanentError(f"record larger than the producer's batch size "
                                             f"for {topic}")
            futures.append(await self._enqueue(batch, topic, partition))
        return futures

    async def _enqueue(self, batch: object, topic: str, partition: int) -> asyncio.Future[object]:
        """`send_batch`, waiting as long as the producer's request timeout for the
        partition's previous batch to drain. aiokafka's own wait subtracts the elapsed time
        cumulatively, so under load it gives up long before its timeout; here the wait is
        measured once."""
        deadline = time.monotonic() + REQUEST_TIMEOUT_S
        while True:
            try:
                future: asyncio.Future[object] = await self.producer.send_batch(
                    batch, topic, partition=partition)
                return future
            except KafkaTimeoutError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.005)


class ConsumeLoop:
    def __init__(
        self,
        *,
        service: str,
        topic_names: tuple[str, ...],
        handler: Handler,
        settings: Settings,
        producer: AIOKafkaProducer,
        group_id: str | None = None,
    ) -> None:
        self.service = service
        self.topic_names = topic_names
        self.handler = handler
        self.settings = settings
        self.publisher = Publisher(producer, settings)
        self.group_id = group_id or f"{settings.topic_prefix}leadflow-{service}"
        self.consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._started = asyncio.Event()
        self.batches = 0
        self.records = 0  # consumed and committed, for probes and tests

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def ready(self) -> bool:
        return (
            self.consumer is not None
            and self._started.is_set()
            and bool(self.consumer.assignment())
        )

    async def run(self) -> None:
        names = tuple(self.settings.topic(t) for t in self.topic_names)
        self.consumer = kafka.make_consumer(self.settings, self.group_id, *names)
        # Joining a group can take seconds; a stop meanwhile must not wait for it.
        starting = asyncio.create_task(kafka.start_client(self.consumer))
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
            await self.consumer.stop()
            return
        starting.result()
        self._started.set()
        log.info("%s consuming %s as group %s", self.service, ", ".join(names), self.group_id)
        backoff = Backoff(BACKOFF_START_S, BACKOFF_MAX_S)
        try:
            while not self.stopping:
                try:
                    polled = await self.consumer.getmany(
                        timeout_ms=self.settings.poll_timeout_ms,
                        max_records=self.settings.max_batch,
                    )
                    backoff.reset()
                except KafkaError as exc:
                    if not kafka.is_transient(exc):
                        raise BrokerError(f"poll refused: {exc!r}") from exc
                    delay = backoff.next()
                    log.warning("poll failed (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    continue
                records = [r for batch in polled.values() for r in batch]
                if records:
                    await self.process(records)
                    self._report_lag(polled)
        finally:
            try:
                await self.consumer.stop()
            except Exception as exc:  # leaving the group is best effort at shutdown  # noqa: BLE001 - the loop's contract: any fault of a record is handled
                log.warning("consumer stop failed: %s", exc)

    # -- one batch ---------------------------------------------------------------------

    async def process(self, records: list[ConsumerRecord]) -> None:
        started = time.monotonic()
        events: list[Event] = []
        origin: list[ConsumerRecord] = []
        dead: list[DeadLetter] = []
        for record in records:
            try:
                events.append(decode_event(record.value))
                origin.append(record)
            except Exception as exc:  # decode failures are permanent by definition  # noqa: BLE001 - the loop's contract: any fault of a record is handled
                dead.append(DeadLetter(record, f"undecodable: {exc}"))

        outgoing, more_dead, retried = await self._handle(events, origin)
        dead.extend(more_dead)
        await self.publisher.publish(outgoing)
        if dead:
            await self.publisher.send_raw([self._dead_letter(d) for d in dead])
        await self._commit(records)

        self.batches += 1
        self.records += len(records)
        elapsed = time.monotonic() - started
        metrics.STAGE_SECONDS.labels(self.service).observe(elapsed)
        metrics.BATCH_RECORDS.labels(self.service).observe(len(records))
        dead_ids = {id(d.record) for d in dead}
        counts = Counter((r.topic, "dead_lettered" if id(r) in dead_ids else "ok")
                         for r in records)
        for (topic, outcome), count in counts.items():
            metrics.EVENTS.labels(self.service, topic, outcome).inc(count)
        if retried:
            metrics.EVENTS.labels(self.service, records[0].topic, "retried").inc(retried)
        log.info(
            "batch service=%s records=%d out=%d dead=%d retried=%d ms=%.1f",
            self.service, len(records), len(outgoing), len(dead), retried, elapsed * 1000,
        )

    async def _handle(
        self, events: list[Event], origin: list[ConsumerRecord]
    ) -> tuple[list[Outgoing], list[DeadLetter], int]:
        if not events:
            return [], [], 0
        retried = 0
        try:
            out, r = await self._call_retrying(events)
            return out, [], retried + r
        except RetryableError:
            raise
        except Exception as exc:  # noqa: BLE001 - the loop's contract: any fault of a record is handled
            log.warning("batch of %d failed (%r); handling records one at a time",
                        len(events), exc)
        outgoing: list[Outgoing] = []
        dead: list[DeadLetter] = []
        for event, record in zip(events, origin, strict=True):
            last_error: Exception | None = None
            for attempt in range(1, self.settings.max_attempts + 1):
                try:
                    out, r = await self._call_retrying([event])
                    retried += r
                    outgoing.extend(out)
                    last_error = None
                    break
                except Exception as exc:  # noqa: BLE001 - the loop's contract: any fault of a record is handled
                    last_error = exc
                    if attempt < self.settings.max_attempts:
                        retried += 1
                        await asyncio.sleep(BACKOFF_START_S * attempt)
            if last_error is not None:
                log.error("dead-lettering %s[%d]@%d: %r", record.topic, record.partition,
                          record.offset, last_error)
                dead.append(DeadLetter(record, f"{last_error.__class__.__name__}: {last_error}"))
        return outgoing, dead, retried

    async def _call_retrying(self, events: list[Event]) -> tuple[list[Outgoing], int]:
        """Call the handler; transient faults are retried with backoff, without limit."""
        backoff = Backoff(BACKOFF_START_S, BACKOFF_MAX_S)
        retried = 0
        while True:
            try:
                return await self.handler(events), retried
            except RetryableError as exc:
                retried += len(events)
                delay = backoff.next()
                log.warning("%s: transient fault (%s); retrying in %.1fs",
                            self.service, exc, delay)
                await asyncio.sleep(delay)

    def _dead_letter(self, dead: DeadLetter) -> Record:
        r = dead.record
        headers = [(k, v) for k, v in (r.headers or ()) if not k.startswith("leadflow.dlq.")]
        headers += [
            ("leadflow.dlq.service", self.service.encode()),
            ("leadflow.dlq.error", dead.error[:2000].encode("utf-8", "replace")),
            ("leadflow.dlq.topic", r.topic.encode()),
            ("leadflow.dlq.partition", str(r.partition).encode()),
            ("leadflow.dlq.offset", str(r.offset).encode()),
        ]
        return self.settings.topic(topics.DLQ), r.key, r.value, headers

    async def _commit(self, records: list[ConsumerRecord]) -> None:
        assert self.consumer is not None
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            if tp not in offsets or offsets[tp].offset <= r.offset:
                offsets[tp] = OffsetAndMetadata(r.offset + 1, "")
        backoff = Backoff(BACKOFF_START_S, BACKOFF_MAX_S)
        while True:
            try:
                await self.consumer.commit(offsets)
                return
            except (CommitFailedError, IllegalStateError) as exc:
                # The group rebalanced: another member owns these partitions now and will
                # re-deliver from the last commit; idempotent handlers make that safe.
                log.warning("commit refused after rebalance (%s); records will repeat", exc)
                return
            except (KafkaError, OSError) as exc:
                if not kafka.is_transient(exc):
                    raise BrokerError(f"commit refused: {exc!r}") from exc
                delay = backoff.next()
                log.warning("commit failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    def _report_lag(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.consumer is not None
        for tp, batch in polled.items():
            high = self.consumer.highwater(tp)
            if high is not None and batch:
                metrics.CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(
                    max(0, high - (batch[-1].offset + 1))
                )
