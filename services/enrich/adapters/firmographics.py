"""Firmographics providers behind one interface, chosen by LEADFLOW_FIRMOGRAPHICS_PROVIDER.

`lookup(domains, within)` answers what it can within `within` seconds: a domain in the
result was answered (found, or None: the provider does not know it); a domain missing
from the result was not answered in time or the provider failed, and its leads go on with
`enrichment.status` partial. Speed beats completeness (DESIGN.md section 5).

- `LocalProvider` reads a CSV of domains once (and again when the file changes).
- `HttpProvider` calls a commercial API (URL template, auth header, field mapping from
  settings) with httpx: a per-call timeout, one retry, a circuit breaker that stops
  calling a provider that keeps failing, answers cached in PostgreSQL with a TTL
  (`enrich.firmographics_cache`; unknown domains cached for a shorter time). One fetch
  per domain at a time, shared by every lead asking; a fetch still running when a lead's
  budget ends finishes in the background and fills the cache for the next lead.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.enrich.firmographics import (
    BadAnswerError,
    Firmographics,
    firmographics_from,
    map_answer,
    parse_field_mapping,
)
from shared import db, metrics
from shared.errors import ConfigError, RetryableError
from shared.events import utcnow
from shared.settings import Settings

log = logging.getLogger("leadflow.enrich.firmographics")
DEMO_CSV = Path(__file__).resolve().parents[1] / "data" / "demo_firmographics.csv"
CONCURRENCY = 16
MAX_INFLIGHT = 1000  # fetches waiting or running at once, across batches


class Provider(Protocol):
    name: str

    async def lookup(self, domains: list[str], within: float
                     ) -> dict[str, Firmographics | None]: ...

    async def close(self) -> None: ...


class NoProvider:
    name = "none"

    async def lookup(self, domains: list[str], within: float  # noqa: ARG002 - answers at once
                     ) -> dict[str, Firmographics | None]:
        return dict.fromkeys(domains)

    async def close(self) -> None:
        return None


# --- local CSV --------------------------------------------------------------------------

def read_firmographics_csv(content: str, filename: str) -> dict[str, Firmographics]:
    """`domain,name,industry,employees,country` (lines starting with # are comments);
    errors name the file, row and problem."""
    lines = [line for line in content.splitlines() if not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if "domain" not in (reader.fieldnames or []):
        raise ConfigError(f"{filename}: the header needs a domain column "
                          "(domain,name,industry,employees,country)")
    out: dict[str, Firmographics] = {}
    for number, row in enumerate(reader, start=2):
        domain = (row.get("domain") or "").strip().lower()
        if not domain:
            continue
        try:
            out[domain] = firmographics_from(row)
        except BadAnswerError as bad:
            raise ConfigError(f"{filename}: row {number} ({domain}): {bad}") from None
    return out


class LocalProvider:
    """A CSV of domains, read at start and re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = "local" if path != DEMO_CSV else "local-demo"
        self._stamp: float | None = None
        self._table: dict[str, Firmographics] = {}
        self._load()

    def _load(self) -> None:
        try:
            stamp = self.path.stat().st_mtime
            if stamp == self._stamp:
                return
            self._table = read_firmographics_csv(self.path.read_text(encoding="utf-8-sig"),
                                                 str(self.path))
            self._stamp = stamp
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc.strerror or exc}") from None

    async def lookup(self, domains: list[str], within: float  # noqa: ARG002 - answers at once
                     ) -> dict[str, Firmographics | None]:
        try:
            self._load()
        except ConfigError as exc:  # a file being rewritten: keep the last good table
            log.warning("%s", exc)
        return {d: self._table.get(d) for d in domains}

    async def close(self) -> None:
        return None


# --- HTTP -------------------------------------------------------------------------------

@dataclass
class Breaker:
    """Open after `failures` failures in a row; after `cooldown_s`, one call may try."""

    failures: int
    cooldown_s: float
    clock: Callable[[], float] = time.monotonic
    _count: int = 0
    _opened_at: float | None = None
    _probing: bool = False

    def allow(self) -> bool:
        if self._opened_at is None:
            return True
        if self._probing or self.clock() - self._opened_at < self.cooldown_s:
            return False
        self._probing = True  # half open: this one call decides
        return True

    def success(self) -> None:
        self._count, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        self._count += 1
        self._probing = False
        if self._count >= self.failures:
            if self._opened_at is None:
                log.warning("firmographics provider failing: circuit open for %.0f s",
                            self.cooldown_s)
            self._opened_at = self.clock()

    @property
    def open(self) -> bool:
        return self._opened_at is not None


@dataclass
class _Answer:
    found: Firmographics | None
    ok: bool  # False: no usable answer (timeout, error, garbage)


@dataclass
class HttpProvider:
    settings: Settings
    engine: AsyncEngine
    transport: httpx.AsyncBaseTransport | None = None
    now: Callable[[], datetime] = utcnow
    name: str = "http"
    breaker: Breaker = field(init=False)
    # One fetch per domain at a time, shared by every lead that asks; a fetch that
    # outlives a lead's budget finishes here and fills the cache.
    _inflight: dict[str, asyncio.Task[_Answer]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        s = self.settings
        if "{domain}" not in s.firmographics_url:
            raise ConfigError("LEADFLOW_FIRMOGRAPHICS_URL must contain {domain} "
                              "(e.g. https://api.example.com/v2/companies/find?domain={domain})")
        try:
            self.mapping = parse_field_mapping(s.firmographics_fields)
        except ValueError as exc:
            raise ConfigError(f"LEADFLOW_FIRMOGRAPHICS_FIELDS: {exc}") from None
        headers = {"Accept": "application/json"}
        if s.firmographics_auth_header:
            key, sep, value = s.firmographics_auth_header.partition(":")
            if not sep or not key.strip():
                raise ConfigError("LEADFLOW_FIRMOGRAPHICS_AUTH_HEADER must look like "
                                  "'Authorization: Bearer <key>'")
            headers[key.strip()] = value.strip()
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(s.firmographics_timeout_s),
                                        headers=headers, transport=self.transport,
                                        follow_redirects=False)
        self.breaker = Breaker(s.firmographics_breaker_failures,
                               s.firmographics_breaker_cooldown_s)
        self.gate = asyncio.Semaphore(CONCURRENCY)
        self.ttl = s.duration("firmographics_cache_ttl")
        self.miss_ttl = s.duration("firmographics_miss_ttl")
        # Cached answers belong to one provider and mapping: change either and the cache
        # starts afresh instead of serving answers read the old way.
        self.fingerprint = "http:" + hashlib.sha256(
            f"{s.firmographics_url}\n{s.firmographics_fields}".encode()).hexdigest()[:12]

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        await self.client.aclose()

    async def lookup(self, domains: list[str], within: float
                     ) -> dict[str, Firmographics | None]:
        deadline = time.monotonic() + within
        try:
            async with asyncio.timeout(within / 3):
                result = await self._cached(domains)
        except Exception as exc:  # noqa: BLE001 - the cache is a shortcut, never a need
            log.info("firmographics cache not read: %s", type(exc).__name__)
            result = {}
        tasks: dict[str, asyncio.Task[_Answer]] = {}
        for domain in domains:
            if domain in result:
                continue
            task = self._inflight.get(domain)
            if task is None:
                if len(self._inflight) >= MAX_INFLIGHT:
                    continue  # a backlog this deep will not answer in time anyway
                task = asyncio.create_task(self._fetch_and_store(domain))
                self._inflight[domain] = task
                task.add_done_callback(self._forget(domain))
            tasks[domain] = task
        answered: dict[str, Firmographics | None] = {}
        if tasks:
            left = max(0.0, deadline - time.monotonic())
            done, pending = await asyncio.wait(set(tasks.values()), timeout=left)
            for domain, task in tasks.items():
                if task in done and not task.cancelled() and task.exception() is None \
                        and task.result().ok:
                    answered[domain] = task.result().found
            if pending:
                metrics.ENRICHMENT_LOOKUPS.labels(self.name, "over_budget").inc(len(pending))
        return {**result, **answered}

    def _forget(self, domain: str) -> Callable[[object], None]:
        """A done-callback that drops the domain's lookup from those in flight."""
        def forget(_task: object) -> None:
            self._inflight.pop(domain, None)

        return forget

    async def _fetch_and_store(self, domain: str) -> _Answer:
        answer = await self._fetch(domain)
        if answer.ok:
            await self._store({domain: answer.found})
        return answer

    async def _fetch(self, domain: str) -> _Answer:
        """The call and one retry; the breaker counts the domain once, not each attempt."""
        async with self.gate:
            if not self.breaker.allow():
                metrics.ENRICHMENT_LOOKUPS.labels(self.name, "circuit_open").inc()
                return _Answer(None, ok=False)
            answer: _Answer | None = None
            try:
                for attempt in range(2):
                    answer = await self._call(domain)
                    if answer is not None:
                        break
                    if attempt == 0:
                        await asyncio.sleep(0.05)
            except Exception as exc:  # noqa: BLE001 - any surprise is a provider failure
                log.warning("firmographics %s: %s: %s", domain, type(exc).__name__, exc)
                answer = None
            if answer is None or not answer.ok:
                self.breaker.failure()
                return answer or _Answer(None, ok=False)
            self.breaker.success()
            return answer

    async def _call(self, domain: str) -> _Answer | None:
        """One call; None when it should be retried (timeout, network, 429, 5xx)."""
        url = self.settings.firmographics_url.replace("{domain}", quote(domain, safe=""))
        try:
            # The whole call, not each phase: a server trickling bytes is a timeout too.
            async with asyncio.timeout(self.settings.firmographics_timeout_s):
                response = await self.client.get(url)
        except (httpx.HTTPError, TimeoutError) as exc:
            metrics.ENRICHMENT_LOOKUPS.labels(self.name, "error").inc()
            log.info("firmographics %s: %s", domain, type(exc).__name__)
            return None
        if response.status_code == 404:
            metrics.ENRICHMENT_LOOKUPS.labels(self.name, "not_found").inc()
            return _Answer(None, ok=True)
        if response.status_code != 200:
            metrics.ENRICHMENT_LOOKUPS.labels(self.name, "error").inc()
            if response.status_code == 429 or response.status_code >= 500:
                return None
            log.warning("firmographics %s: provider answered %d", domain,
                        response.status_code)
            return _Answer(None, ok=False)
        try:
            found = map_answer(orjson.loads(response.content), self.mapping)
        except (orjson.JSONDecodeError, BadAnswerError) as exc:
            # Garbage is a provider failure: not cached, counted against the breaker.
            metrics.ENRICHMENT_LOOKUPS.labels(self.name, "garbage").inc()
            log.warning("firmographics %s: unreadable answer: %s", domain, exc)
            return _Answer(None, ok=False)
        metrics.ENRICHMENT_LOOKUPS.labels(self.name, "found").inc()
        return _Answer(found, ok=True)

    async def _cached(self, domains: list[str]) -> dict[str, Firmographics | None]:
        async with db.connection(self.engine) as conn:
            rows = (await conn.execute(text(
                "SELECT domain, found, data FROM enrich.firmographics_cache "
                "WHERE domain = ANY(CAST(:d AS text[])) AND expires_at > :now "
                "AND provider = :p"), {"d": domains, "now": self.now(),
                                       "p": self.fingerprint})).all()
        if rows:
            metrics.ENRICHMENT_LOOKUPS.labels(self.name, "cached").inc(len(rows))
        return {r.domain: Firmographics.from_dict(r.data) if r.found else None for r in rows}

    async def _store(self, answered: dict[str, Firmographics | None]) -> None:
        if not answered:
            return
        now = self.now()
        items = list(answered.items())
        try:
            async with db.transaction(self.engine) as conn:
                await conn.execute(text("""
                    INSERT INTO enrich.firmographics_cache (domain, provider, found, data,
                                                            fetched_at, expires_at)
                    SELECT d, :p, f, CAST(j AS json), :now, e
                    FROM unnest(CAST(:d AS text[]), CAST(:f AS boolean[]),
                                CAST(:j AS text[]), CAST(:e AS timestamptz[])) AS t(d, f, j, e)
                    ON CONFLICT (domain) DO UPDATE SET provider = EXCLUDED.provider,
                        found = EXCLUDED.found, data = EXCLUDED.data,
                        fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at"""),
                    {"p": self.fingerprint, "now": now, "d": [d for d, _ in items],
                     "f": [f is not None for _, f in items],
                     "j": [orjson.dumps(f.as_dict() if f else {}).decode() for _, f in items],
                     "e": [now + (self.ttl if f is not None else self.miss_ttl)
                           for _, f in items]})
        except RetryableError as exc:
            log.warning("firmographics cache not written: %s", exc)


def make_provider(settings: Settings, engine: AsyncEngine,
                  transport: httpx.AsyncBaseTransport | None = None) -> Provider:
    """The provider the settings choose; ConfigError names a setting that is wrong."""
    if settings.firmographics_provider == "none":
        return NoProvider()
    if settings.firmographics_provider == "http":
        if not settings.firmographics_url:
            raise ConfigError("LEADFLOW_FIRMOGRAPHICS_PROVIDER=http needs "
                              "LEADFLOW_FIRMOGRAPHICS_URL")
        return HttpProvider(settings, engine, transport)
    path = Path(settings.firmographics_csv) if settings.firmographics_csv else DEMO_CSV
    return LocalProvider(path)


__all__ = ["Breaker", "HttpProvider", "LocalProvider", "NoProvider", "Provider",
           "make_provider", "read_firmographics_csv", "timedelta"]
