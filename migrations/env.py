"""Alembic environment: migrates the database named by the `sqlalchemy.url` option."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import async_url


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: sqlalchemy.url is not set (leadflow sets it from DATABASE_URL)")
    engine = create_async_engine(async_url(url))
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


asyncio.run(_main())
