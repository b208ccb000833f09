"""`make bench`: leadflow's throughput and speed-to-lead on this machine, against a bare
Kafka relay on the same broker in the same run. Prints numbers; asserts nothing.

1. Starts `leadflow up` in a fresh data dir (fresh in-memory broker, fresh database).
2. Bare relay: N messages through 4 hops of consume -> produce -> commit (4 processes,
   no logic), timed from the first produce to the last record out of hop 4.
3. Saturation, right after the relay so both run on fresh topics: N leads posted over HTTP
   in batched requests (keep-alive connections, pipelined by many
   concurrent senders) through capture -> enrich -> score -> route; sustained leads/s is
   N over the time from the first POST to the last `lead.routed` read back; speed-to-lead
   is each lead's `routed_at - received_at`. "Steady" rates (relay and pipeline alike)
   count the records that arrived between the 10th and 90th percentile of arrival times,
   leaving out ramp-up and drain; first-to-last rates are printed beside them.
4. Single-lead requests (as forms and webhooks send them): capture's accepted rate.
5. Offered load: single-lead requests at a fixed rate (default 500/s) for a while; speed-to-lead
   percentiles at that rate.
6. Enrich alone: N captured leads waiting on topics nothing else reads, drained by one
   `leadflow serve enrich`: enriched leads per second.
7. Webhooks, capture only: signed deliveries (Typeform's base64 HMAC, Webflow's timestamped
   hex HMAC, Google's key in the body), each verified over the raw bytes, read, mapped,
   receipted with its raw body and published before the 200: deliveries accepted per second.
8. Queues (tests/load/queues_bench.py): a morning backlog of 5,000 queued leads dealt from
   a team's opening while new leads keep arriving, and the lead list on a database seeded
   with 1,000,000 assignments.

Environment: BENCH_LEADS (default 20000), BENCH_RATE (500), BENCH_RATE_SECONDS (20),
BENCH_CONNECTIONS (32), BENCH_BATCH (100 leads per request in the saturation phase),
BENCH_BATCH_CONNECTIONS (8), BENCH_SINGLE (5000 single-lead requests for the capture
figure), BENCH_WEBHOOKS (6000 signed webhook deliveries), BENCH_ENRICH (20000 leads
through enrich alone).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from leadflow.embedded import free_port
from tests.load import queues_bench
from tests.load.queues_bench import BACKLOG, LIST_ROWS
from tests.provider_kit import SECRETS, fixture_json, typeform_headers, webflow_headers

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "bench-api-key"
N = int(os.environ.get("BENCH_LEADS", "20000"))
RATE = int(os.environ.get("BENCH_RATE", "500"))
RATE_SECONDS = float(os.environ.get("BENCH_RATE_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
BATCH_CONNECTIONS = int(os.environ.get("BENCH_BATCH_CONNECTIONS", "8"))
SINGLE = int(os.environ.get("BENCH_SINGLE", "5000"))
WEBHOOKS = int(os.environ.get("BENCH_WEBHOOKS", "6000"))
ENRICH = int(os.environ.get("BENCH_ENRICH", "20000"))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the stack ------------------------------------------------------------------------

class Stack:
    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
        self.env = dict(os.environ)
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
            self.env.pop(name, None)
        self.env.update({
            "LEADFLOW_DATA_DIR": str(self.data_dir), "LEADFLOW_BROKER_PORT": str(free_port()),
            "LEADFLOW_API_KEY": API_KEY, "LEADFLOW_ADMIN_KEY": "bench-admin-key",
            "LEADFLOW_LOG_LEVEL": "WARNING",
            **{f"LEADFLOW_{k.upper()}": v for k, v in SECRETS.items()},
            **{f"LEADFLOW_{s.upper()}_PORT": str(free_port())
               for s in ("capture", "enrich", "score", "route")},
        })
        self.bootstrap = f"127.0.0.1:{self.env['LEADFLOW_BROKER_PORT']}"
        self.capture_port = int(self.env["LEADFLOW_CAPTURE_PORT"])
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "leadflow", "up"], cwd=ROOT,
                                        env=self.env, text=True, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + 180
        while not any("leadflow is up" in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("leadflow up failed:\n" + "".join(self.lines))
            time.sleep(0.2)

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


# -- a small HTTP/1.1 keep-alive client (cheap enough to share two cores) --------------

class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes | tuple[bytes, dict[str, str]]) -> int:
        """POST a body (with leadflow's API key), or a body with its own headers."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        if isinstance(body, tuple):
            body, headers = body
            path = headers.pop(":path", path)
        else:
            headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


def lead_body(run: str, i: int) -> bytes:
    if i % 2:
        lead = {"email": f"buyer{i}@{run}-corp{i % 997}.example", "first_name": "Dana",
                "last_name": "Ng", "job_title": "VP Sales", "country": "US",
                "company": {"name": f"Corp {i % 997}", "employees": 40 + (i % 900),
                            "industry": "software"},
                "activities": [{"type": "pricing_page_visit", "at": "2026-11-20T10:00:00Z"}]}
    else:
        lead = {"email": f"reader{i}.{run}@gmail.com", "full_name": "Sam Reader",
                "utm_source": "newsletter"}
    return orjson.dumps(lead)


def webhook_delivery(run: str, i: int) -> tuple[bytes, dict[str, str]]:
    """One signed delivery, rotating Typeform, Webflow and Google Ads."""
    kind = i % 3
    if kind == 0:
        doc = fixture_json("typeform_form_response.json")
        doc["form_response"]["token"] = f"{run}-{i}"
        for answer in doc["form_response"]["answers"]:
            if answer["type"] == "email":
                answer["email"] = f"tf{i}@{run}.example"
        body = orjson.dumps(doc)
        return body, {**typeform_headers(body), ":path": "/v1/webhooks/typeform"}
    if kind == 1:
        doc = fixture_json("webflow_form_submission.json")
        doc["payload"]["id"] = f"{run}-{i}"
        doc["payload"]["data"]["email"] = f"wf{i}@{run}.example"
        body = orjson.dumps(doc)
        return body, {**webflow_headers(body, int(time.time() * 1000)),
                      ":path": "/v1/webhooks/webflow"}
    doc = fixture_json("google_ads_lead_production.json")
    doc["lead_id"] = f"{run}-{i}"
    doc["google_key"] = SECRETS["google_ads_key"]
    doc["user_column_data"].append({"column_id": "EMAIL", "string_value":
                                    f"ga{i}@{run}.example"})
    return orjson.dumps(doc), {"content-type": "application/json",
                               ":path": "/v1/webhooks/google_ads"}


async def send_all(port: int, bodies: list[Any], rate: float | None,
                   path: str = "/v1/leads", connections: int | None = None) -> tuple[float, int]:
    """Post every body; with `rate`, open-loop at that many per second."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    failures = 0

    async def worker() -> None:
        nonlocal failures
        conn = Connection(port)
        while (body := await queue.get()) is not None:
            for _ in range(20):
                status = await conn.post(path, (body[0], dict(body[1])) if isinstance(
                    body, tuple) else body)
                if status in (200, 202):
                    break
                failures += 1
                await asyncio.sleep(0.2)

    workers = [asyncio.create_task(worker()) for _ in range(connections or CONNECTIONS)]
    started = time.monotonic()
    if rate is None:
        for body in bodies:
            queue.put_nowait(body)
    else:
        for i, body in enumerate(bodies):
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > 0.002:
                await asyncio.sleep(delay)
            queue.put_nowait(body)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return time.monotonic() - started, failures


# -- reading leads.routed ------------------------------------------------------------

class RoutedReader:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.seen: dict[str, tuple[float, float]] = {}  # lead_id -> (speed, read at)
        self.dealt: dict[str, float] = {}  # lead_id -> when route dealt it from a queue
        self.emails: dict[str, str] = {}  # lead_id -> email, to tell one phase's leads apart
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap,
                                         enable_auto_commit=False, fetch_max_wait_ms=50,
                                         max_partition_fetch_bytes=8 * 1024 * 1024)
        await self.consumer.start()
        await self.consumer._client.force_metadata_update()
        tps = [TopicPartition("leads.routed", p)
               for p in sorted(self.consumer.partitions_for_topic("leads.routed") or [])]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)

    async def wait_for(self, ids: set[str], timeout: float) -> float:
        assert self.consumer is not None
        deadline = time.monotonic() + timeout
        while not ids <= self.seen.keys() and time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                for r in records:
                    d = orjson.loads(r.value)["data"]
                    if (d.get("assignment") or {}).get("reason") == "dealt_from_queue":
                        self.dealt.setdefault(d["lead_id"], r.timestamp / 1000)
                    t = d.get("timings") or {}
                    if t.get("routed_at") and d["lead_id"] not in self.seen:
                        self.emails[d["lead_id"]] = (d.get("contact") or {}).get("email") or ""
                        speed = (datetime.fromisoformat(t["routed_at"])
                                 - datetime.fromisoformat(d["received_at"])).total_seconds()
                        # When route published it (the record's create time), not when
                        # this reader got round to it.
                        self.seen[d["lead_id"]] = (speed, r.timestamp / 1000)
        return time.monotonic()

    async def stop(self) -> None:
        if self.consumer:
            await self.consumer.stop()


def steady_rate(arrivals: list[float]) -> float:
    """Records per second between the 10th and the 90th percentile of arrival times: the
    rate once the flow is established, without the ramp-up and the drain."""
    if len(arrivals) < 10:
        return float("nan")
    ordered = sorted(arrivals)
    lo, hi = ordered[len(ordered) // 10], ordered[(len(ordered) * 9) // 10]
    return (len(ordered) * 0.8) / max(hi - lo, 1e-6)


def batches_of(bodies: list[bytes], size: int) -> list[bytes]:
    return [b'{"leads":[' + b",".join(bodies[i:i + size]) + b"]}"
            for i in range(0, len(bodies), size)]


async def drain(reader: RoutedReader, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(reader.seen) < count and time.monotonic() < deadline:
        await reader.wait_for({"-"}, 1)


# -- the bare relay ------------------------------------------------------------------

def relay_payload() -> bytes:
    """A routed lead's event: the size and shape of what leadflow's hops carry."""
    from datetime import UTC

    from services.capture.intake import lead_from_payload
    from shared.events import make_event

    lead = lead_from_payload(orjson.loads(lead_body("relay", 1)), provider="api",
                             channel="api", now=datetime.now(UTC))
    data = lead.model_dump(mode="json")
    data["score"] = {"points": 75, "temperature": "hot", "stage": "mql", "model": "bench",
                     "reasons": [{"rule": "vp", "points": 15}, {"rule": "demo", "points": 25}]}
    data["assignment"] = {"kind": "rep", "rep_id": "ana", "team_id": "enterprise",
                          "attempt": 1, "rule": "enterprise", "strategy": "round_robin"}
    return make_event("lead.routed", "bench", data).encode()


async def bare_relay(bootstrap: str, n: int) -> tuple[float, float]:
    names = [f"relay.hop{i}" for i in range(5)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, 6, 1) for t in names])
    await admin.close()
    # Started once, before anything is timed: a blocking Popen is fine here.
    hops = [subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "tests.load.relay", bootstrap, names[i], names[i + 1],
         f"relay-{i}"], cwd=ROOT, stdout=subprocess.PIPE, text=True) for i in range(4)]
    try:
        for hop in hops:
            assert hop.stdout is not None
            hop.stdout.readline()  # "ready": joined its group
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    fetch_max_wait_ms=50)
        await consumer.start()
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(names[-1], p) for p in range(6)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2,
                                    max_batch_size=256 * 1024)
        await producer.start()
        payload = relay_payload()
        started = time.time()  # wall clock: compared with record timestamps

        async def produce() -> None:
            futures = [await producer.send(names[0], value=payload, key=str(i).encode())
                       for i in range(n)]
            await asyncio.gather(*futures)

        sender = asyncio.create_task(produce())
        arrivals: list[float] = []
        while len(arrivals) < n and time.time() - started < 300:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            arrivals += [r.timestamp / 1000 for v in batch.values() for r in v]
        elapsed = max(arrivals, default=time.time()) - started
        await sender
        await producer.stop()
        await consumer.stop()
        return len(arrivals) / elapsed, steady_rate(arrivals)
    finally:
        for hop in hops:
            hop.send_signal(signal.SIGTERM)
        for hop in hops:
            try:
                hop.wait(10)
            except subprocess.TimeoutExpired:
                hop.kill()


# -- enrich alone ----------------------------------------------------------------------

async def enrich_alone(stack: Stack, n: int) -> tuple[float, float]:
    """N `lead.captured` events waiting on fresh topics (a prefix nothing else reads),
    then one `leadflow serve enrich` drains them: enriched leads per second, steady and
    first to last. Firmographics from the local provider (the demo CSV); a quarter of the
    leads are repeat persons and half match a known account by domain or name."""
    from datetime import UTC

    from services.capture.api import captured_event
    from services.capture.intake import lead_from_payload

    stack_file = orjson.loads((stack.data_dir / "stack.json").read_bytes())
    prefix = f"enrich{int(time.time())}."
    names = [f"{prefix}leads.captured", f"{prefix}leads.enriched"]
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, 6, 1) for t in names])
    await admin.close()
    domains = ["globex.com", "initech.com", "hooli.com", "contoso.com", "kontor.de"]
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", linger_ms=5,
                                max_batch_size=256 * 1024)
    await producer.start()
    now = datetime.now(UTC)
    futures = []
    for i in range(n):
        person = i % (n * 3 // 4)  # a quarter are repeat leads of a known person
        domain = domains[i % 5] if i % 2 else f"corp{i % 997}.example"
        payload = {"email": f"p{person}@{domain}", "full_name": "Dana Ng",
                   "job_title": ["VP Sales", "Head of Growth", "Sr. Mgr, Demand Gen",
                                 "Geschäftsführer", "Software Engineer"][i % 5],
                   "company": "Globex Inc." if i % 7 == 0 else f"Corp {i % 997}",
                   "country": "US", "idempotency": i}
        lead = lead_from_payload(payload, provider="api", channel="api", now=now,
                                 sender_id=f"enrich-bench-{prefix}{i}")
        out = captured_event(lead)
        futures.append(await producer.send(names[0], value=out.event.encode(),
                                           key=out.key.encode()))
    await asyncio.gather(*futures)
    await producer.stop()
    env = {**stack.env, "LEADFLOW_TOPIC_PREFIX": prefix,
           "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
           "DATABASE_URL": stack_file["database_url"], "LEADFLOW_ENRICH_PORT": str(free_port())}
    subprocess.run(  # noqa: ASYNC221 - before the timing
        [sys.executable, "-m", "leadflow", "accounts", "import", "deploy/demo/accounts.csv"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=50)
    await consumer.start()
    await consumer._client.force_metadata_update()
    tps = [TopicPartition(names[1], p) for p in range(6)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before the timing
        [sys.executable, "-m", "leadflow", "serve", "enrich"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        arrivals: list[float] = []
        deadline = time.time() + 300
        while len(arrivals) < n and time.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            arrivals += [r.timestamp / 1000 for v in batch.values() for r in v]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        await consumer.stop()
    if len(arrivals) < 2:
        return float("nan"), float("nan")
    return len(arrivals) / (max(arrivals) - min(arrivals)), steady_rate(arrivals)


async def main() -> None:
    from shared.service import tune_gc

    tune_gc()  # the load generator shares the two cores: keep its own overhead low
    stack = Stack()
    print(f"leadflow bench: {N} leads, then {RATE}/s for {RATE_SECONDS:.0f}s; "
          f"{os.cpu_count()} cores; starting the stack…", flush=True)
    stack.start()
    try:
        relay_whole, relay_rate = await bare_relay(stack.bootstrap, N)
        print(f"bare 4-hop relay:          {relay_rate:8.0f} messages/s steady "
              f"({relay_whole:.0f}/s first to last; {N} messages)", flush=True)

        reader = RoutedReader(stack.bootstrap)
        await reader.start()
        run = f"r{int(time.time())}"

        # Saturation: the whole pipeline, fed by batched requests (POST /v1/leads/batch).
        bodies = [lead_body(run, i) for i in range(N)]
        started = time.time()  # wall clock: compared with record timestamps
        sent_in, failures = await send_all(stack.capture_port, batches_of(bodies, BATCH), None,
                                           "/v1/leads/batch", BATCH_CONNECTIONS)
        accepted = N / sent_in
        await drain(reader, N, 600)
        done = max((t for _, t in reader.seen.values()), default=time.time())
        whole = len(reader.seen) / (done - started)
        sustained = steady_rate([t for _, t in reader.seen.values()])
        speeds = [s for s, _ in reader.seen.values()]
        print(f"batched requests:          {accepted:8.0f} leads/s accepted by capture "
              f"({BATCH} per request, {failures} retried)")
        print(f"pipeline sustained:        {sustained:8.0f} leads/s steady, end to end "
              f"({whole:.0f}/s first POST to last routed; {len(reader.seen)}/{N} routed)")
        print(f"speed-to-lead, saturated:  p50 {pct(speeds, 50) * 1000:6.0f} ms  "
              f"p95 {pct(speeds, 95) * 1000:6.0f} ms  p99 {pct(speeds, 99) * 1000:6.0f} ms")
        print(f"pipeline / relay:          {sustained / relay_rate:8.2f} steady "
              f"({whole / relay_whole:.2f} first to last)", flush=True)

        reader.seen.clear()

        # Single-lead requests, as web forms and webhooks send them.
        bodies = [lead_body(run + "s", i) for i in range(SINGLE)]
        started = time.time()  # wall clock: compared with record timestamps
        sent_in, failures = await send_all(stack.capture_port, bodies, None)
        await drain(reader, SINGLE, 300)
        done = max((t for _, t in reader.seen.values()), default=time.time())
        print(f"single-lead requests:      {SINGLE / sent_in:8.0f} leads/s accepted by capture, "
              f"{len(reader.seen) / (done - started):.0f} leads/s routed "
              f"({SINGLE} leads, {CONNECTIONS} connections, {failures} retried)", flush=True)
        reader.seen.clear()

        count = int(RATE * RATE_SECONDS)
        bodies = [lead_body(run + "o", i) for i in range(count)]
        sent_in, failures = await send_all(stack.capture_port, bodies, RATE)
        await drain(reader, count, 120)
        speeds = [s for s, _ in reader.seen.values()]
        print(f"offered {RATE}/s for {RATE_SECONDS:.0f}s:     achieved {count / sent_in:6.0f}/s; "
              f"speed-to-lead p50 {pct(speeds, 50) * 1000:6.0f} ms  "
              f"p95 {pct(speeds, 95) * 1000:6.0f} ms  p99 {pct(speeds, 99) * 1000:6.0f} ms  "
              f"max {max(speeds, default=0) * 1000:6.0f} ms ({len(speeds)}/{count} routed)")
        if speeds:
            print(f"  mean {statistics.mean(speeds) * 1000:.0f} ms")
        await reader.stop()

        enrich_whole, enrich_rate = await enrich_alone(stack, ENRICH)
        print(f"enrich alone:              {enrich_rate:8.0f} leads/s steady "
              f"({enrich_whole:.0f}/s first to last; {ENRICH} waiting leads, one process, "
              f"local firmographics, persons and accounts)", flush=True)

        deliveries = [webhook_delivery(run + "w", i) for i in range(WEBHOOKS)]
        sent_in, failures = await send_all(stack.capture_port, deliveries, None)
        print(f"webhooks, capture only:    {WEBHOOKS / sent_in:8.0f} deliveries/s accepted "
              f"(signature checked, receipted with raw body, published and acknowledged; "
              f"Typeform/Webflow/Google Ads, {CONNECTIONS} connections, {failures} retried)",
              flush=True)

        if BACKLOG:
            reader = RoutedReader(stack.bootstrap)
            await reader.start()
            await queues_bench.morning_backlog(stack, reader, send_all, batches_of, pct)
            await reader.stop()
        if LIST_ROWS:
            await queues_bench.lead_list(stack, pct)
    finally:
        stack.stop()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
