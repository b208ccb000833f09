"""Enrich's `leadflow` subcommand: `accounts import` (known accounts from a CSV, an
idempotent upsert that applies to the leads arriving after it returns)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from services.enrich.store import parse_accounts_csv, upsert_accounts
from shared import db
from shared.commands import Subparsers, command
from shared.errors import ConfigError
from shared.settings import Settings


def register(sub: Subparsers) -> None:
    s = sub.add_parser("accounts", help="known accounts")
    acc_sub = s.add_subparsers(dest="accounts_command", required=True)
    a = acc_sub.add_parser("import", help="import accounts from a CSV (idempotent upsert)")
    a.add_argument("file")
    command(a, cmd_accounts_import, database=True)


def cmd_accounts_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from exc
    accounts = parse_accounts_csv(content, path.name)

    async def run() -> int:
        engine = db.create_engine(settings.database_url, pool_size=1)
        try:
            async with db.transaction(engine) as conn:
                count = await upsert_accounts(conn, accounts)
        finally:
            await engine.dispose()
        print(f"imported {count} accounts from {path}")
        return 0

    return asyncio.run(run())
