"""The `leadflow` command line: the whole product's entry point.

Its own commands are `up`, `serve`, `migrate`, `org apply`, `tail`, `dlq replay` and the
dry run `route test`; each service adds its own from its `commands.py` (`accounts
import`, `score explain|compare`, `route replay`, `capture trace|replay`).

Run beside a `leadflow up`, a command finds the embedded broker and database through
`LEADFLOW_DATA_DIR` (its `stack.json`); elsewhere through `KAFKA_BOOTSTRAP_SERVERS` and
`DATABASE_URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from leadflow import dryrun
from services.capture import commands as capture_commands
from services.enrich import commands as enrich_commands
from services.route import commands as route_commands
from services.score import commands as score_commands
from shared.commands import command
from shared.errors import ConfigError, LeadflowError
from shared.settings import SERVICES, Settings

log = logging.getLogger("leadflow")


def connected_settings(**overrides: object) -> Settings:
    """Settings with broker and database filled in from a running `leadflow up` when the
    environment does not name them."""
    from leadflow.embedded import read_stack

    settings = Settings(**overrides)  # type: ignore[arg-type]
    stack = read_stack(settings.data_dir)
    updates: dict[str, object] = {}
    if not settings.kafka_bootstrap_servers and stack.get("kafka_bootstrap_servers"):
        updates["kafka_bootstrap_servers"] = stack["kafka_bootstrap_servers"]
    if not settings.database_url and stack.get("database_url"):
        updates["database_url"] = stack["database_url"]
    return settings.model_copy(update=updates)


def need(settings: Settings, kafka: bool = False, database: bool = False) -> None:
    missing = []
    if kafka and not settings.kafka_bootstrap_servers:
        missing.append("KAFKA_BOOTSTRAP_SERVERS")
    if database and not settings.database_url:
        missing.append("DATABASE_URL")
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set and no running `leadflow up` found in "
            f"{settings.data_dir}/ (set LEADFLOW_DATA_DIR to its data dir)"
        )


# -- the whole product's commands (each service adds its own from its commands.py) ----

def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import importlib

    from shared.service import run_service

    module = importlib.import_module(f"services.{args.service}.main")
    return run_service(args.service, module.build, settings)


def cmd_up(_: argparse.Namespace, settings: Settings) -> int:
    from leadflow.supervisor import up
    from shared.service import setup_logging

    setup_logging("WARNING")
    return up(settings)


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> int:
    from shared.migrate import run_migrations

    run_migrations(settings.database_url)
    print("database migrated to the latest schema")
    return 0


def cmd_org_apply(args: argparse.Namespace, settings: Settings) -> int:
    from shared.db import create_engine
    from shared.orgstore import apply_org

    async def run() -> int:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            org = await apply_org(engine, Path(args.file))
        finally:
            await engine.dispose()
        reps = sum(len(t.reps) for t in org.teams)
        print(f"applied {args.file}: version {org.version}, {len(org.teams)} teams, {reps} reps, "
              f"{len(org.routing.rules)} routing rules, {len(org.scoring.rules)} scoring rules")
        return 0

    return asyncio.run(run())


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from leadflow.tail import tail

    try:
        return asyncio.run(tail(settings, args.topic, from_beginning=args.from_beginning,
                                raw=args.raw, limit=args.limit))
    except KeyboardInterrupt:
        return 0


def cmd_dlq_replay(args: argparse.Namespace, settings: Settings) -> int:
    from leadflow.tail import replay_dead_letters

    count = asyncio.run(replay_dead_letters(settings, limit=args.limit))
    print(f"replayed {count} dead letters to their original topics")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="leadflow", description="leadflow: capture, enrich, "
                                "score and route leads over Kafka in seconds.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("up", help="start the whole stack (embedded broker and database "
                                  "unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set)")
    command(s, cmd_up, stack=False)

    s = sub.add_parser("serve", help="run one service (production, containers)")
    s.add_argument("service", choices=SERVICES)
    command(s, cmd_serve, stack=False)

    s = sub.add_parser("migrate", help="migrate the database schema")
    command(s, cmd_migrate, database=True)

    s = sub.add_parser("org", help="the org file")
    org_sub = s.add_subparsers(dest="org_command", required=True)
    a = org_sub.add_parser("apply", help="validate and apply an org file")
    a.add_argument("file")
    command(a, cmd_org_apply, database=True)

    enrich_commands.register(sub)
    score_commands.register(sub)
    dryrun.register(route_commands.register(sub))
    capture_commands.register(sub)

    s = sub.add_parser("tail", help="print a topic's events as they arrive")
    s.add_argument("topic", help="e.g. leads.routed (the prefix is added for you)")
    s.add_argument("--from-beginning", action="store_true", help="start at the oldest event")
    s.add_argument("--raw", action="store_true", help="print whole events as JSON lines")
    s.add_argument("--limit", type=int, default=0, help="stop after N events")
    command(s, cmd_tail, kafka=True)

    s = sub.add_parser("dlq", help="dead letters")
    dlq_sub = s.add_subparsers(dest="dlq_command", required=True)
    a = dlq_sub.add_parser("replay", help="send dead letters back to their original topics")
    a.add_argument("--limit", type=int, default=0, help="at most N (default: all)")
    command(a, cmd_dlq_replay, kafka=True)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = connected_settings() if args.stack else Settings()
        need(settings, kafka=args.needs_kafka, database=args.needs_database)
        code = args.run(args, settings)
    except LeadflowError as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        code = 2
    except ValueError as exc:  # file errors (org file, accounts CSV) name file and place
        print(f"leadflow: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
