"""Running one service process: its composition root's parts, the HTTP server for its
API and probes, the shared consume loops, and a graceful stop on SIGTERM.

Nothing connects at import time: `serve()` builds the runtime (settings, engine,
producer, clock), asks the service's `build` for its parts, and runs them until a
signal or a crash. A crash exits non-zero so that `leadflow up` (or the orchestrator)
restarts the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvicorn
import uvloop
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import db, kafka, metrics  # noqa: F401 - every service exports every family
from shared.backoff import Backoff
from shared.errors import ConfigError, RetryableError
from shared.events import utcnow
from shared.loop import ConsumeLoop, Publisher
from shared.orgstore import OrgCache
from shared.settings import Settings

DRAIN_BACKOFF_MAX_S = 5.0

log = logging.getLogger("leadflow.service")


@dataclass
class Runtime:
    """What every handler may depend on; built once per process (or per test)."""

    service: str
    settings: Settings
    engine: AsyncEngine
    producer: AIOKafkaProducer
    publisher: Publisher
    org: OrgCache
    now: Callable[[], datetime] = utcnow

    @classmethod
    async def start(cls, service: str, settings: Settings) -> Runtime:
        engine = db.create_engine(settings.database_url)
        await kafka.ensure_topics(settings)  # DESIGN s.3: created at start if missing
        # Capture publishes one lead per request: a longer linger gathers concurrent
        # requests into one produce batch (the broker's cost is per batch, not record).
        linger = settings.capture_linger_ms if service == "capture" else settings.linger_ms
        producer = kafka.make_producer(settings, linger_ms=linger)
        await kafka.start_client(producer)
        return cls(service, settings, engine, producer, Publisher(producer, settings),
                   OrgCache(engine))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.producer.stop()
        await self.engine.dispose()


@dataclass
class Parts:
    """What a service's composition root hands to the runner."""

    router: APIRouter | None = None
    loops: list[ConsumeLoop] = field(default_factory=list)
    tasks: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(default_factory=list)
    description: str = ""
    # Wraps the ASGI app (capture serves its hot path without the framework).
    wrap: Callable[[Any], Any] | None = None


async def drain_until_stopped(stop: asyncio.Event, what: str, tick_s: float,
                              work: Callable[[], Awaitable[int]], batch: int,
                              transient: tuple[type[BaseException], ...] = ()) -> None:
    """Call `work` (which handles up to `batch` due items and returns how many) every
    `tick_s` until `stop` is set; again at once while it finds full batches, and with
    the shared backoff (from `tick_s`, at most 5 s) after a transient fault. Any other
    exception is a bug and ends the task: the service's supervisor sees it."""
    backoff = Backoff(tick_s, DRAIN_BACKOFF_MAX_S)
    while not stop.is_set():
        try:
            done = await work()
            delay = tick_s
            backoff.reset()
        except (RetryableError, TimeoutError, *transient) as exc:  # type: ignore[misc]  # mypy cannot type a starred tuple of exception classes
            delay = backoff.next()
            log.warning("%s: transient fault (%s); retrying in %.1fs", what, exc, delay)
            done = 0
        if done >= batch:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def broker_reachable(producer: AIOKafkaProducer) -> bool:
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), 2.0)
        return True
    except Exception:  # noqa: BLE001 - a probe reports, never raises
        return False


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(2.0), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - a probe reports, never raises
        return False


def validation_error_body(exc: RequestValidationError) -> dict[str, Any]:
    """A 422 body that names each field and the reason, without echoing internals."""
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        errors.append({"field": ".".join(loc) or "body", "reason": err.get("msg", "invalid")})
    return {"error": "invalid request", "errors": errors}


def make_app(service: str, rt: Runtime, parts: Parts) -> FastAPI:
    app = FastAPI(title=f"leadflow {service}", description=parts.description,
                  version="0.1.0")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(exc), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Our errors are bodies of their own ({"error", "reason"/"errors"}), not "detail".
        detail: object = exc.detail  # typed str by Starlette; leadflow raises dicts too
        body = detail if isinstance(detail, dict) else {"error": str(detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RetryableError)
    async def _unavailable(_: Request, exc: RetryableError) -> JSONResponse:
        # The database (or the broker) is down or the transaction lost a race: nothing
        # was changed; the caller retries.
        log.warning("%s: answered 503: %s", service, exc)
        return JSONResponse({"error": "unavailable",
                             "reason": "the database is unavailable or busy; retry shortly"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _crash(_: Request, __: Exception) -> JSONResponse:
        # A bug must not leak a stack trace to the sender; it is logged here instead.
        log.exception("unhandled error in %s", service)
        return JSONResponse({"error": "internal error"}, status_code=500)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        checks = {
            "broker": await broker_reachable(rt.producer),
            "database": await database_reachable(rt.engine),
        }
        if parts.loops:
            checks["partitions_assigned"] = all(loop.ready() for loop in parts.loops)
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"])
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if parts.router is not None:
        app.include_router(parts.router)
    return app


def tune_gc() -> None:
    """Every lead allocates a few hundred short-lived objects per hop; with the default
    thresholds the cyclic collector runs every few leads. Freeze what startup built and
    collect the young generation far less often (cycles are rare on the hot path and are
    still collected)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The runner owns SIGTERM/SIGINT: it drains the consume loops before HTTP stops.
        yield


async def serve(service: str, settings: Settings,
                build: Callable[[Runtime], Parts]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    rt = await Runtime.start(service, settings)
    parts = build(rt)
    tune_gc()
    app = make_app(service, rt, parts)
    asgi = parts.wrap(app) if parts.wrap else app
    server = _Server(uvicorn.Config(
        asgi, host=settings.host, port=settings.port(service), log_level="warning",
        access_log=False, lifespan="off", http="httptools", loop="none",
        timeout_graceful_shutdown=5,
    ))
    running: list[asyncio.Task[Any]] = [asyncio.create_task(server.serve(), name="http")]
    running += [asyncio.create_task(cl.run(), name=f"loop-{i}") for i, cl in enumerate(parts.loops)]
    running += [asyncio.create_task(t(stop), name=f"task-{i}") for i, t in enumerate(parts.tasks)]
    stopper = asyncio.create_task(stop.wait(), name="stop")
    log.info("%s listening on http://%s:%d", service, settings.host, settings.port(service))

    done, _ = await asyncio.wait([stopper, *running], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for task in done:
        if task is not stopper and not task.cancelled() and task.exception() is not None:
            log.error("%s: %s crashed: %r", service, task.get_name(), task.exception())
            code = 1
        elif task is not stopper:
            log.error("%s: %s ended unexpectedly", service, task.get_name())
            code = 1
    stop.set()
    for cl in parts.loops:
        cl.stop()
    # SIGTERM contract: finish the batch in hand, commit, exit within the grace period.
    pending = [t for t in running if not t.done() and t.get_name() != "http"]
    if pending:
        _, late = await asyncio.wait(pending, timeout=settings.shutdown_grace_s - 2)
        for task in late:
            task.cancel()
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(running[0], 3)
    stopper.cancel()
    await rt.close()
    return code


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def run_service(service: str, build: Callable[[Runtime], Parts],
                settings: Settings | None = None) -> int:
    """`leadflow serve <service>` and `python -m services.<service>`: one service, for
    production and containers, which refuses to guess its connections or keys."""
    settings = settings or Settings()
    missing = [name for name, value in (
        ("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers),
        ("DATABASE_URL", settings.database_url),
        ("LEADFLOW_API_KEY", settings.api_key),
        ("LEADFLOW_ADMIN_KEY", settings.admin_key),
    ) if not value]
    if missing:
        raise ConfigError(
            f"`leadflow serve` needs explicit settings; missing: {', '.join(missing)} "
            "(`leadflow up` sets them for you)"
        )
    setup_logging(settings.log_level)
    return uvloop.run(serve(service, settings, build))
