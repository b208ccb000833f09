"""One hop of the bare relay the benchmark compares against: consume a topic, decode each
record's JSON and encode it again (orjson, as every leadflow hop must to read an event),
produce it to the next topic, commit. No logic, same client and process (GC) settings as leadflow.

    python -m tests.load.relay BOOTSTRAP SOURCE_TOPIC TARGET_TOPIC GROUP
"""

from __future__ import annotations

import asyncio
import signal
import sys

import orjson
import uvloop
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared import kafka
from shared.service import tune_gc
from shared.settings import Settings


async def relay(bootstrap: str, source: str, target: str, group: str) -> None:
    settings = Settings(kafka_bootstrap_servers=bootstrap)
    consumer = kafka.make_consumer(settings, group, source)
    producer = kafka.make_producer(settings)
    await kafka.start_client(consumer)
    await kafka.start_client(producer)
    tune_gc()  # the same process settings as a leadflow service
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=settings.max_batch)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            futures = [await producer.send(target, value=orjson.dumps(orjson.loads(r.value)),
                                           key=r.key, headers=r.headers)
                       for r in records]
            await asyncio.gather(*futures)
            await consumer.commit({TopicPartition(r.topic, r.partition):
                                   OffsetAndMetadata(r.offset + 1, "") for r in records})
    finally:
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    uvloop.run(relay(*sys.argv[1:5]))
