"""Session fixtures: the real broker (Tansu) and real PostgreSQL, started once through the
same code `leadflow up` uses, with the demo org file applied (its teams taking leads
outside their hours too, so tests do not depend on the time of day they run at)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.service import Runtime
from shared.settings import Settings
from tests.builders import StartRuntime, demo_org_open_all_hours


@pytest.fixture(scope="session")
def stack_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="leadflow-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def base_settings(stack_dir: Path) -> Iterator[Settings]:
    from leadflow import embedded
    from shared.migrate import run_migrations

    broker = embedded.start_broker(stack_dir, embedded.free_port())
    pg = embedded.start_postgres(stack_dir)
    try:
        run_migrations(pg.url)
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap, database_url=pg.url,
            data_dir=stack_dir, api_key="test-api-key", admin_key="test-admin-key",
            fetch_max_wait_ms=20, poll_timeout_ms=100, max_attempts=2,
        )
        asyncio.run(_apply(settings, demo_org_open_all_hours(stack_dir)))
        yield settings
    finally:
        broker.stop()
        pg.stop()


async def _apply(settings: Settings, path: Path) -> None:
    from shared.db import create_engine
    from shared.orgstore import apply_org

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await apply_org(engine, path)
    finally:
        await engine.dispose()


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """Each test gets its own topics (a fresh prefix), created before it runs."""
    from shared.kafka import ensure_topics

    s = base_settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."})
    asyncio.run(ensure_topics(s))
    return s


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[StartRuntime]:
    """Starts a service's runtime (`await runtime("route")`, or with other settings:
    `await runtime("enrich", own)`) and closes every one started when the test ends."""
    started: list[Runtime] = []

    async def start(service: str, with_settings: Settings | None = None) -> Runtime:
        rt = await Runtime.start(service, with_settings or settings)
        started.append(rt)
        return rt

    yield start
    for rt in reversed(started):
        await rt.close()
