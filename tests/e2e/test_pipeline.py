"""The whole stack: `leadflow up` in a fresh data dir, leads in over HTTP, `leads.routed`
out, read by a plain Kafka consumer; a killed service is restarted; SIGTERM stops all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from leadflow.embedded import free_port
from tests.builders import demo_org_open_all_hours
from tests.kafka_tools import values

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@dataclass
class Up:
    process: subprocess.Popen[str]
    env: dict[str, str]
    data_dir: Path
    lines: list[str]

    def port(self, service: str) -> int:
        return int(self.env[f"LEADFLOW_{service.upper()}_PORT"])

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.env['LEADFLOW_BROKER_PORT']}"

    def read_until(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the reader thread take the last lines
                break
            time.sleep(0.1)
        return any(text in line for line in self.lines)

    def start_reading(self) -> None:
        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)

        threading.Thread(target=pump, daemon=True).start()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("up")
    env = dict(os.environ)
    env.update({
        "LEADFLOW_DATA_DIR": str(data_dir),
        "LEADFLOW_ORG_FILE": str(demo_org_open_all_hours(data_dir)),
        "LEADFLOW_BROKER_PORT": str(free_port()),
        "LEADFLOW_API_KEY": "e2e-api-key",
        "LEADFLOW_ADMIN_KEY": "e2e-admin-key",
        **{f"LEADFLOW_{s.upper()}_PORT": str(free_port())
           for s in ("capture", "enrich", "score", "route")},
    })
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "leadflow", "up"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    handle = Up(process, env, data_dir, [])
    handle.start_reading()
    try:
        assert handle.read_until("leadflow is up", 120), "".join(handle.lines)
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def hot_lead(i: int) -> dict[str, object]:
    return {"email": f"buyer{i}@globex-{i}.example", "first_name": "Dana", "last_name": f"Ng{i}",
            "job_title": "VP Sales", "company": {"name": f"Globex {i}", "employees": 800,
                                                 "industry": "software"},
            "country": "US", "activities": [{"type": "demo_request",
                                             "at": "2026-11-20T10:00:00Z"}]}


def cold_lead(i: int) -> dict[str, object]:
    return {"email": f"reader{i}@gmail.com", "full_name": f"Sam Reader{i}"}


@asynccontextmanager
async def routed_from_start(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A plain consumer of `leads.routed`, every partition, from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=50)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition("leads.routed", p)
               for p in sorted(consumer.partitions_for_topic("leads.routed") or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        yield consumer
    finally:
        await consumer.stop()


async def routed_events(bootstrap: str, want: set[str], timeout: float) -> list[dict]:
    async with routed_from_start(bootstrap) as consumer:
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        settle_until = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            out += values([r for rs in batch.values() for r in rs])
            if want <= {e["data"]["lead_id"] for e in out} and settle_until is None:
                settle_until = time.monotonic() + 2  # catch any duplicate that follows
            if settle_until and time.monotonic() > settle_until:
                break
        return out


async def post_leads(port: int, leads: list[dict[str, object]]) -> list[str]:
    headers = {"Authorization": "Bearer e2e-api-key"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        responses = await asyncio.gather(*(client.post("/v1/leads", json=lead, headers=headers)
                                           for lead in leads))
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    return [r.json()["lead_id"] for r in responses]


def test_fifty_leads_are_routed_each_exactly_once_hot_to_reps_cold_to_nurture(up: Up) -> None:
    hot = [hot_lead(i) for i in range(25)]
    cold = [cold_lead(i) for i in range(25)]
    ids = asyncio.run(post_leads(up.port("capture"), hot + cold))
    hot_ids, cold_ids = set(ids[:25]), set(ids[25:])
    events = asyncio.run(routed_events(up.bootstrap, set(ids), timeout=90))
    counts = Counter(e["data"]["lead_id"] for e in events)
    assert set(counts) == set(ids)
    assert all(n == 1 for n in counts.values()), counts
    for event in events:
        assert event["type"] == "io.leadflow.lead.routed"
        assignment = event["data"]["assignment"]
        if event["data"]["lead_id"] in hot_ids:
            assert assignment["kind"] == "rep" and assignment["rep_id"], event["data"]
            assert assignment["sla"]["temperature"] == "hot"
        else:
            assert event["data"]["lead_id"] in cold_ids
            assert assignment["kind"] == "nurture" and assignment["track"] == "newsletter"
    metrics = httpx.get(f"http://127.0.0.1:{up.port('route')}/metrics").text
    assert "leadflow_speed_to_lead_seconds_count" in metrics


async def wait_for_event(bootstrap: str, lead_id: str, kind: str, timeout: float
                         ) -> dict | None:
    async with routed_from_start(bootstrap) as consumer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for event in values([r for rs in batch.values() for r in rs]):
                if event["data"]["lead_id"] == lead_id and event["type"] == kind:
                    return event
        return None


def test_a_nurtured_lead_that_asks_for_a_demo_goes_to_a_rep(up: Up) -> None:
    [lead_id] = asyncio.run(post_leads(up.port("capture"), [cold_lead(500)]))
    routed = asyncio.run(wait_for_event(up.bootstrap, lead_id, "io.leadflow.lead.routed", 60))
    assert routed is not None and routed["data"]["assignment"]["kind"] == "nurture"
    reply = httpx.post(f"http://127.0.0.1:{up.port('capture')}/v1/activities", json={
        "email": "reader500@gmail.com", "type": "demo_request"},
        headers={"Authorization": "Bearer e2e-api-key"}, timeout=30)
    assert reply.status_code == 202, reply.text
    moved = asyncio.run(wait_for_event(up.bootstrap, lead_id,
                                       "io.leadflow.lead.reassigned", 60))
    assert moved is not None, "the re-scored lead was not reassigned"
    assignment = moved["data"]["assignment"]
    assert assignment["kind"] == "rep" and assignment["attempt"] == 2
    assert assignment["sla"]["temperature"] == "hot"


METRIC_FAMILIES = ("leadflow_speed_to_lead_seconds", "leadflow_leads_received_total",
                   "leadflow_events_total", "leadflow_stage_seconds",
                   "leadflow_sla_breaches_total", "leadflow_sla_met_total",
                   "leadflow_first_touch_seconds", "leadflow_assignments_total",
                   "leadflow_consumer_lag_messages")


@pytest.mark.parametrize("service", ["capture", "enrich", "score", "route"])
def test_every_service_exports_the_contract_metrics(up: Up, service: str) -> None:
    text = httpx.get(f"http://127.0.0.1:{up.port(service)}/metrics").text
    missing = [m for m in METRIC_FAMILIES if f"# TYPE {m}" not in text]
    assert missing == []
    ready = httpx.get(f"http://127.0.0.1:{up.port(service)}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_leadflow_tail_prints_routed_leads(up: Up) -> None:
    env = {**up.env}
    result = subprocess.run(
        [sys.executable, "-m", "leadflow", "tail", "leads.routed", "--from-beginning",
         "--limit", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all("lead.routed" in line and "->" in line for line in lines)


def test_a_killed_service_is_restarted_and_the_pipeline_keeps_going(up: Up) -> None:
    children = psutil.Process(up.process.pid).children()
    score = next(c for c in children if c.cmdline()[-1] == "score")
    score.kill()
    assert up.read_until("score restarted", 30), "".join(up.lines)
    assert up.read_until("score exited", 1)
    ids = asyncio.run(post_leads(up.port("capture"), [hot_lead(100)]))
    events = asyncio.run(routed_events(up.bootstrap, set(ids), timeout=90))
    assert ids[0] in {e["data"]["lead_id"] for e in events}


def test_sigterm_stops_every_process_it_started(up: Up) -> None:
    tree = [up.process.pid] + [c.pid for c in psutil.Process(up.process.pid).children(
        recursive=True)]
    postmaster = int((up.data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    up.process.send_signal(signal.SIGTERM)
    up.process.wait(60)
    assert up.read_until("stopped", 5)
    time.sleep(1)
    alive = [pid for pid in [*tree, postmaster] if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == []
