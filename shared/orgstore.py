"""Where the applied org file lives: `org.versions`, written by `leadflow org apply`.

Services read the newest version at each batch (one cheap indexed query), so an org file
applies to the leads that arrive after `org apply` returns, with no restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import db
from shared.batcher import Batcher
from shared.errors import RetryableError
from shared.org import OrgFile, load_org, load_org_file


def _read_org(path: Path) -> tuple[OrgFile, str]:
    org = load_org_file(path)  # raises OrgError naming file, path and problem
    return org, path.read_text(encoding="utf-8")


async def apply_org(engine: AsyncEngine, path: Path) -> OrgFile:
    """Validate, then store; all or nothing. Returns the parsed file."""
    # Off the event loop: the file is read, parsed and validated in a worker thread.
    org, source = await asyncio.to_thread(_read_org, path)
    async with db.transaction(engine) as conn:
        latest = (await conn.execute(text(
            "SELECT version FROM org.versions ORDER BY id DESC LIMIT 1"))).scalar()
        if latest != org.version:
            await conn.execute(
                text("INSERT INTO org.versions (version, filename, body, source_yaml) "
                     "VALUES (:v, :f, CAST(:b AS json), :s)"),
                {"v": org.version, "f": path.name, "b": org.model_dump_json(), "s": source},
            )
    return org


class OrgCache:
    """The newest applied org file, re-read only when a newer version has been applied.

    Callers without a connection of their own (capture, once per request) share one
    version check per round trip: a caller waits for a check that starts after it asked
    (group commit's rule), so an org file applied before a request arrived applies to it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._id: int | None = None
        self._org: OrgFile | None = None
        self._lock = asyncio.Lock()
        self._shared: Batcher[None, OrgFile] = Batcher(self._check_for)

    async def current(self, conn: AsyncConnection | None = None) -> OrgFile:
        if conn is None:
            return await self._shared.submit(None)
        return await self._current(conn)

    async def _check_for(self, callers: list[None]) -> list[OrgFile]:
        async with db.connection(self.engine) as c:
            org = await self._current(c)
        return [org] * len(callers)

    async def _current(self, conn: AsyncConnection) -> OrgFile:
        latest = (await conn.execute(text("SELECT max(id) FROM org.versions"))).scalar()
        if latest is None:
            # Waiting, not failing: an operator applying the org file unblocks the stream.
            raise RetryableError("no org file applied yet: run `leadflow org apply FILE`")
        if latest != self._id or self._org is None:
            async with self._lock:
                row = (await conn.execute(
                    text("SELECT source_yaml, filename FROM org.versions WHERE id = :i"),
                    {"i": latest})).one()
                self._org = load_org(row.source_yaml, row.filename)
                self._id = latest
        return self._org
