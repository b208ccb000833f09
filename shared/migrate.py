"""Schema migrations with Alembic; `leadflow migrate` and `leadflow up` call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations


def alembic_config(database_url: str) -> Config:
    folder = Path(migrations.__file__).parent
    cfg = Config(str(folder / "alembic.ini"))
    cfg.set_main_option("script_location", str(folder))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def run_migrations(database_url: str, revision: str = "head") -> None:
    """Upgrade to `revision`. Synchronous: call it outside a running event loop (or in a
    thread), since Alembic's environment runs its own."""
    command.upgrade(alembic_config(database_url), revision)
