"""`leadflow up`: the whole stack on one machine, from nothing.

Starts the embedded broker and PostgreSQL unless `KAFKA_BOOTSTRAP_SERVERS` /
`DATABASE_URL` are set, migrates, creates the topics, applies the org file, starts the
four services as child processes (`leadflow serve <service>`), prints where everything
is, restarts a service that dies, and on Ctrl-C or SIGTERM stops everything it started:
services first (each drains and commits), then the broker, then PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from leadflow import embedded
from shared import kafka
from shared.errors import ConfigError
from shared.migrate import run_migrations
from shared.settings import SERVICES, Settings

CHILD_STOP_GRACE_S = 12.0
READY_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Children get SIGTERM if `leadflow up` itself is killed, so nothing is orphaned."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def say(message: str) -> None:
    print(f"leadflow: {message}", flush=True)


@dataclass
class Child:
    service: str
    env: dict[str, str]
    logfile: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    crashes: list[float] = field(default_factory=list)

    def start(self) -> None:
        with open(self.logfile, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "leadflow", "serve", self.service],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _stop_children(children: list[Child]) -> None:
    for child in children:
        if child.alive():
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + CHILD_STOP_GRACE_S
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.service} did not stop in time; killing it")
            child.process.kill()
            child.process.wait(5)


def _wait_ready(settings: Settings, children: list[Child]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = {c.service for c in children}
    with httpx.Client(timeout=1.0) as client:
        while pending and time.monotonic() < deadline:
            for child in children:
                if child.service not in pending:
                    continue
                if not child.alive():
                    raise ConfigError(f"{child.service} exited at start; see {child.logfile}")
                url = f"http://{settings.host}:{settings.port(child.service)}/readyz"
                try:
                    if client.get(url).status_code == 200:
                        pending.discard(child.service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
    if pending:
        raise ConfigError(f"not ready within {READY_TIMEOUT_S:.0f}s: {', '.join(sorted(pending))}")


def up(settings: Settings) -> int:
    stop_requested = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    broker: embedded.Broker | None = None
    pg: embedded.Postgres | None = None
    children: list[Child] = []
    try:
        bootstrap = settings.kafka_bootstrap_servers
        if not bootstrap:
            say(f"starting the embedded broker (Tansu, in memory) on "
                f"{settings.host}:{settings.broker_port}")
            broker = embedded.start_broker(data_dir, settings.broker_port, settings.host)
            bootstrap = broker.bootstrap
        database_url = settings.database_url
        if not database_url:
            say(f"starting embedded PostgreSQL (data in {data_dir / 'pg'})")
            pg = embedded.start_postgres(data_dir)
            database_url = pg.url
        settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap,
                                               "database_url": database_url})
        run_migrations(database_url)
        created = asyncio.run(kafka.ensure_topics(settings))
        if created:
            say(f"created topics: {', '.join(created)}")
        org = _apply_org(settings)
        api_key, admin_key = embedded.ensure_keys(data_dir, settings.api_key, settings.admin_key)
        embedded.write_stack(data_dir, kafka_bootstrap_servers=bootstrap,
                             database_url=database_url, pid=os.getpid())

        env = dict(os.environ)
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database_url,
            "LEADFLOW_API_KEY": api_key, "LEADFLOW_ADMIN_KEY": admin_key,
            "LEADFLOW_DATA_DIR": str(data_dir),
        })
        children = [Child(s, env, logs / f"{s}.log") for s in SERVICES]
        for child in children:
            child.start()
        _wait_ready(settings, children)
        _banner(settings, bootstrap, database_url, api_key, admin_key, org, logs)

        while not stop_requested:
            time.sleep(0.25)
            for child in children:
                if stop_requested or child.alive():
                    continue
                code = child.process.returncode if child.process else None
                now = time.monotonic()
                child.crashes = [t for t in child.crashes if now - t < 60] + [now]
                delay = min(2 ** (len(child.crashes) - 1) * 0.5, 10.0)
                say(f"{child.service} exited (code {code}); restarting it in {delay:.1f}s "
                    f"(see {child.logfile})")
                time.sleep(delay)
                if not stop_requested:
                    child.start()
                    child.restarts += 1
                    say(f"{child.service} restarted (restart #{child.restarts})")
        say("stopping: services drain and commit, then the broker and database stop")
        return 0
    except ConfigError as exc:
        say(str(exc))
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_children(children)
        if broker is not None:
            broker.stop()
        if pg is not None:
            pg.stop()
        embedded.clear_stack(data_dir)
        if children or broker or pg:
            say("stopped")


def _apply_org(settings: Settings) -> str:
    from shared.db import create_engine
    from shared.orgstore import apply_org

    path = Path(settings.org_file)
    if not path.exists():
        raise ConfigError(f"org file {path} not found (set LEADFLOW_ORG_FILE)")

    async def run() -> str:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            org = await apply_org(engine, path)
        finally:
            await engine.dispose()
        return f"{path} (version {org.version})"

    return asyncio.run(run())


def _banner(settings: Settings, bootstrap: str, database_url: str, api_key: str,
            admin_key: str, org: str, logs: Path) -> None:
    h = settings.host
    lines = [
        "",
        "leadflow is up",
        "",
        f"  capture   http://{h}:{settings.capture_port}   POST /v1/leads  (docs: /docs)",
        "            lead sources: /v1/webhooks/{provider}, /v1/forms/{id}, /v1/imports",
        f"  enrich    http://{h}:{settings.enrich_port}",
        f"  score     http://{h}:{settings.score_port}",
        f"  route     http://{h}:{settings.route_port}   GET /v1/leads/{{id}}, ops page: /",
        "            what waits where: GET /v1/queues, /v1/leads?status=queued",
        "  metrics   /metrics on each service",
        "",
        f"  broker    {bootstrap}",
        f"  database  {database_url}",
        f"  org file  {org}",
        f"  logs      {logs}/",
        "",
        f"  LEADFLOW_API_KEY={api_key}",
        f"  LEADFLOW_ADMIN_KEY={admin_key}",
        "",
        "  watch leads flow:  leadflow tail leads.routed",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)
