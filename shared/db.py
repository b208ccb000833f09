"""The PostgreSQL boundary: engine construction and the mapping of driver faults.

Services use SQLAlchemy 2 Core over asyncpg. A lost connection or an unreachable
server is a `RetryableError` (the loop backs off and retries the batch); everything
else propagates as it is, and the loop treats it as a fault of the record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared.errors import ConfigError, RetryableError

_TRANSIENT_SQLSTATES = {
    "08000", "08003", "08006", "08001", "08004",  # connection exceptions
    "57P01", "57P02", "57P03",  # admin shutdown, crash shutdown, cannot connect now
    "40001", "40P01",  # serialization failure, deadlock: retrying the batch is right
    "53300",  # too many connections
}


def async_url(url: str) -> str:
    """Accept the `postgresql://` URLs operators write and use the asyncpg driver."""
    if not url:
        raise ConfigError("DATABASE_URL is empty")
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, not {parsed.drivername}")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=5, pool_pre_ping=True,
        # Errors must not carry statement parameters: they hold raw bodies and keys.
        hide_parameters=True,
    )


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, RetryableError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
        cause = getattr(exc, "__cause__", None)
        if cause is not None:
            exc = cause
    if isinstance(exc, (OSError, ConnectionError, asyncpg.exceptions.ConnectionDoesNotExistError)):
        return True
    if isinstance(exc, asyncpg.exceptions.PostgresConnectionError | asyncpg.InterfaceError):
        return True
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return sqlstate in _TRANSIENT_SQLSTATES


@asynccontextmanager
async def _mapped(cm: Any) -> AsyncIterator[AsyncConnection]:
    try:
        async with cm as conn:
            yield conn
    except Exception as exc:
        if is_transient(exc):
            raise RetryableError(f"database unavailable: {exc.__class__.__name__}: {exc}") from exc
        raise


def transaction(engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
    """One transaction; transient driver faults surface as RetryableError."""
    return _mapped(engine.begin())


def connection(engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
    """A connection without an explicit transaction (reads); faults mapped likewise."""
    return _mapped(engine.connect())
