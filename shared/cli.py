"""The `leadflow` command: `up`, `serve`, `migrate`, `org apply`, `accounts import`,
`tail`, `dlq replay`.

Run beside a `leadflow up`, a command finds the embedded broker and database through
`LEADFLOW_DATA_DIR` (its `stack.json`); elsewhere through `KAFKA_BOOTSTRAP_SERVERS` and
`DATABASE_URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from shared.errors import ConfigError, LeadflowError
from shared.settings import SERVICES, Settings

log = logging.getLogger("leadflow")


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def connected_settings(**overrides: object) -> Settings:
    """Settings with broker and database filled in from a running `leadflow up` when the
    environment does not name them."""
    from shared.embedded import read_stack

    settings = Settings(**overrides)  # type: ignore[arg-type]
    stack = read_stack(settings.data_dir)
    updates: dict[str, object] = {}
    if not settings.kafka_bootstrap_servers and stack.get("kafka_bootstrap_servers"):
        updates["kafka_bootstrap_servers"] = stack["kafka_bootstrap_servers"]
    if not settings.database_url and stack.get("database_url"):
        updates["database_url"] = stack["database_url"]
    settings = settings.model_copy(update=updates)
    return settings


def _need(settings: Settings, kafka: bool = False, database: bool = False) -> None:
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


# -- commands --------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings()
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
    import importlib

    import uvloop

    from shared.service import serve

    module = importlib.import_module(f"services.{args.service}.main")
    return uvloop.run(serve(args.service, settings, module.build))


def cmd_up(args: argparse.Namespace) -> int:
    from shared.supervisor import up

    setup_logging("WARNING")
    return up(Settings())


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
    from shared.migrate import run_migrations

    run_migrations(settings.database_url)
    print("database migrated to the latest schema")
    return 0


def cmd_org_apply(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
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


def cmd_accounts_import(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
    from services.enrich.store import parse_accounts_csv, upsert_accounts
    from shared import db

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


def cmd_tail(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, kafka=True)
    from shared.tail import tail

    try:
        return asyncio.run(tail(settings, args.topic, from_beginning=args.from_beginning,
                                raw=args.raw, limit=args.limit))
    except KeyboardInterrupt:
        return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, kafka=True)
    from shared.tail import replay_dead_letters

    count = asyncio.run(replay_dead_letters(settings, limit=args.limit))
    print(f"replayed {count} dead letters to their original topics")
    return 0


def cmd_capture_trace(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
    from services.capture.replay import trace

    found = asyncio.run(trace(settings, args.lead_id))
    print(f"lead {found['lead_id']} from {found['provider']}: accepted "
          f"{found['received_at'].isoformat()}, published "
          f"{found['published_at'].isoformat() if found['published_at'] else 'not yet'}, "
          f"{found['deliveries']} deliver{'y' if found['deliveries'] == 1 else 'ies'}"
          + (f", sender id {found['idempotency_key']}" if found["idempotency_key"] else ""))
    if found["payload"] is not None:
        print("payload:", json.dumps(found["payload"], ensure_ascii=False))
    for d in found["delivery_list"]:
        body = bytes(d["body"])
        shown = body if args.full or len(body) <= 2000 else body[:2000] + b"..."
        print(f"delivery {d['id']} at {d['received_at'].isoformat()} "
              f"({d['content_type'] or 'no content type'}, {len(body)} bytes):")
        print(shown.decode("utf-8", errors="replace"))
        if d["fetched"] is not None:
            print("fetched from the provider's API:", json.dumps(d["fetched"],
                                                                 ensure_ascii=False))
    if not found["delivery_list"]:
        print("no raw body kept (past LEADFLOW_DELIVERY_RETENTION)")
    return 0


def cmd_capture_replay(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, kafka=True, database=True)
    from services.capture.replay import replay

    lead = asyncio.run(replay(settings, args.lead_id))
    print(f"published lead.captured for {lead.lead_id} again (same lead and event id)")
    return 0


def cmd_score_explain(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
    from services.score.tools import explain

    found = asyncio.run(explain(settings, args.lead_id))
    stored = found["stored"]
    print(f"lead {args.lead_id}: {stored['points']} points (fit {stored['fit']}, behaviour "
          f"{stored['behaviour']}), {stored['temperature']}, {stored['stage']}; model "
          f"{stored['model']}, scored {stored['scored_at']}")
    for reason in stored["reasons"]:
        print(f"  {reason['points']:+4d}  {reason['rule']} ({reason.get('kind') or '?'})")
    now = found["now"]
    if now is not None:
        print(f"now, with the live model {now['model']}: {now['points']} points (fit "
              f"{now['fit']}, behaviour {now['behaviour']}), {now['temperature']}, "
              f"{now['stage']}")
    return 0


def cmd_score_compare(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
    from services.score.tools import compare

    result = asyncio.run(compare(settings, Path(args.file)))
    print(f"scored {result.scored} stored leads with the live model {result.live_version} "
          f"and {args.file} ({result.candidate_version})")
    changed = sum(result.stage.values())
    print(f"stage would change for {changed} lead(s)"
          + "".join(f"; {a} -> {b}: {n}" for (a, b), n in sorted(result.stage.items())))
    changed = sum(result.temperature.values())
    print(f"temperature would change for {changed} lead(s)"
          + "".join(f"; {a} -> {b}: {n}" for (a, b), n in sorted(result.temperature.items())))
    for example in result.examples:
        print(f"  {example['lead_id']}: {example['before']} -> {example['after']}"
              + (f" (rules: {', '.join(example['rules'])})" if example["rules"] else ""))
    return 0


def cmd_route_test(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
    from services.route.tools import route_test

    result = asyncio.run(route_test(settings, Path(args.lead),
                                    Path(args.org) if args.org else None))
    lead, decision = result.lead, result.decision
    if args.json:
        print(json.dumps({"lead_id": lead["lead_id"], "assignment": decision.assignment,
                          "decision": decision.record(result.org.version),
                          "notes": result.notes}, indent=2, default=str))
        return 0
    score = lead.get("score") or {}
    contact = lead.get("contact") or {}
    print(f"lead {lead['lead_id']} ({contact.get('email') or contact.get('phone') or '-'}): "
          f"{score.get('points')} points, {score.get('temperature')}, {score.get('stage')}")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"org file {result.org.version}" + (f" from {args.org}" if args.org else " (live)"))
    print("rules tried:")
    for step in decision.trace:
        extra = (f" rep {step['rep_id']}" + (f", passed over: {step['passed_over']}"
                                             if step.get("passed_over") else "")
                 if "rep_id" in step else "")
        print(f"  {step['rule']:<24} {'matched' if step['matched'] else 'no'}{extra}")
    if decision.candidates:
        print("candidates:")
        for c in decision.candidates:
            print(f"  {c['rep_id']:<24} {c['passed_over'] or 'chosen'}")
    a = decision.assignment
    where = {"rep": lambda: f"rep {a.get('rep_id')} ({a.get('team_id')})",
             "nurture": lambda: f"nurture track {a.get('track')}",
             "queue": lambda: f"queue {a.get('queue')}"}[a["kind"]]()
    print(f"decision: {where}; rule {a.get('rule')}, reason {a.get('reason')}"
          + (f", strategy {a['strategy']}" if a.get("strategy") else ""))
    if a.get("sla"):
        sla = a["sla"]
        print(f"SLA: {sla['temperature']}, due {sla['due_at']} ({sla['clock']} clock)"
              + (f", reminders at {', '.join(sla['warn_at'])}" if sla.get("warn_at") else ""))
    if decision.rotation is not None:
        print(f"rotation after: {decision.rotation.team_id} last rep "
              f"{decision.rotation.last_rep_id}, turn {decision.rotation.turns}")
    print("a dry run: nothing was assigned, stored or published")
    return 0


def cmd_route_replay(args: argparse.Namespace) -> int:
    settings = connected_settings()
    _need(settings, database=True)
    from services.route.tools import route_replay
    from shared.org import parse_duration

    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    result = asyncio.run(route_replay(settings, since, Path(args.org)))
    print(f"replayed {result.leads} lead(s) first routed since {result.since.isoformat()} "
          f"under the live org file {result.live_version} and {args.org} "
          f"({result.candidate_version})")
    print(f"{result.moved} would go elsewhere"
          + (":" if result.moved else ""))
    for (before, after), n in result.transitions.most_common():
        print(f"  {before} -> {after}: {n}")
    if result.examples:
        print("examples:")
    for e in result.examples:
        print(f"  {e['lead_id']} (routed {e['routed_at']}): {e['before']} -> {e['after']} "
              f"(rule {e['rule_before']} -> {e['rule_after']}, {e['reason_after']})")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="leadflow", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("up", help="start the whole stack (embedded broker and database "
                                  "unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set)")
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("serve", help="run one service (production, containers)")
    s.add_argument("service", choices=SERVICES)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("migrate", help="migrate the database schema")
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser("org", help="the org file")
    org_sub = s.add_subparsers(dest="org_command", required=True)
    a = org_sub.add_parser("apply", help="validate and apply an org file")
    a.add_argument("file")
    a.set_defaults(func=cmd_org_apply)

    s = sub.add_parser("accounts", help="known accounts")
    acc_sub = s.add_subparsers(dest="accounts_command", required=True)
    a = acc_sub.add_parser("import", help="import accounts from a CSV (idempotent upsert)")
    a.add_argument("file")
    a.set_defaults(func=cmd_accounts_import)

    s = sub.add_parser("score", help="scores: explain one, compare a candidate model")
    score_sub = s.add_subparsers(dest="action", required=True)
    a = score_sub.add_parser("explain", help="a lead's score, rule by rule")
    a.add_argument("lead_id")
    a.set_defaults(func=cmd_score_explain)
    a = score_sub.add_parser("compare", help="what a candidate org file's scoring would "
                             "change for the stored leads (read-only)")
    a.add_argument("file")
    a.set_defaults(func=cmd_score_compare)

    s = sub.add_parser("route", help="routing: test a lead, replay a candidate org file")
    route_sub = s.add_subparsers(dest="action", required=True)
    a = route_sub.add_parser("test", help="the decision a lead would get now (a dry run)")
    a.add_argument("--lead", required=True, metavar="FILE.json",
                   help="a lead, an event from `leadflow tail --raw`, or a POST /v1/leads body")
    a.add_argument("--org", metavar="ORG_FILE", help="decide under this org file instead")
    a.add_argument("--json", action="store_true", help="print the decision record as JSON")
    a.set_defaults(func=cmd_route_test)
    a = route_sub.add_parser("replay", help="how many recent leads a candidate org file "
                             "would send elsewhere (read-only)")
    a.add_argument("--since", default="7d", help="how far back, e.g. 7d, 12h (default 7d)")
    a.add_argument("--org", required=True, metavar="NEW_ORG_FILE")
    a.set_defaults(func=cmd_route_replay)

    s = sub.add_parser("capture", help="accepted leads: trace and replay")
    cap_sub = s.add_subparsers(dest="action", required=True)
    a = cap_sub.add_parser("trace", help="a lead's receipt, payload and raw deliveries")
    a.add_argument("lead_id")
    a.add_argument("--full", action="store_true", help="print whole bodies")
    a.set_defaults(func=cmd_capture_trace)
    a = cap_sub.add_parser("replay", help="publish an accepted lead's lead.captured again")
    a.add_argument("lead_id")
    a.set_defaults(func=cmd_capture_replay)

    s = sub.add_parser("tail", help="print a topic's events as they arrive")
    s.add_argument("topic", help="e.g. leads.routed (the prefix is added for you)")
    s.add_argument("--from-beginning", action="store_true", help="start at the oldest event")
    s.add_argument("--raw", action="store_true", help="print whole events as JSON lines")
    s.add_argument("--limit", type=int, default=0, help="stop after N events")
    s.set_defaults(func=cmd_tail)

    s = sub.add_parser("dlq", help="dead letters")
    dlq_sub = s.add_subparsers(dest="dlq_command", required=True)
    a = dlq_sub.add_parser("replay", help="send dead letters back to their original topics")
    a.add_argument("--limit", type=int, default=0, help="at most N (default: all)")
    a.set_defaults(func=cmd_dlq_replay)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        code = args.func(args)
    except LeadflowError as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        code = 2
    except ValueError as exc:  # file errors (org file, accounts CSV) name file and place
        print(f"leadflow: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
