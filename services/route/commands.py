"""Route's `leadflow` subcommands: `route replay` (how many recent leads a candidate org
file would send elsewhere; read-only) and `queues` (what waits where). `route test`,
which chains capture, enrich and score before route decides, is the `leadflow` package's
own (leadflow/dryrun.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta
from pathlib import Path

from services.route.tools import queues_now, route_replay
from shared.commands import Subparsers, command
from shared.errors import ConfigError
from shared.org import format_duration, parse_duration
from shared.settings import Settings


def register(sub: Subparsers) -> Subparsers:
    """Add `route` and its actions; returns the actions, for the command line's own."""
    s = sub.add_parser("route", help="routing: test a lead, replay a candidate org file")
    route_sub = s.add_subparsers(dest="action", required=True)
    a = route_sub.add_parser("replay", help="how many recent leads a candidate org file "
                             "would send elsewhere (read-only)")
    a.add_argument("--since", default="7d", help="how far back, e.g. 7d, 12h (default 7d)")
    a.add_argument("--org", required=True, metavar="NEW_ORG_FILE")
    command(a, cmd_route_replay, database=True)
    q = sub.add_parser("queues", help="each queue: leads waiting, the oldest's age, who works it")
    q.add_argument("--json", action="store_true", help="print the queues as JSON")
    command(q, cmd_queues, database=True)
    return route_sub


def cmd_queues(args: argparse.Namespace, settings: Settings) -> int:
    queues = asyncio.run(queues_now(settings))
    if args.json:
        print(json.dumps(queues, indent=2))
        return 0
    print(f"{'queue':<32} {'waiting':>7}  {'oldest':>8}  worked by")
    for q in queues:
        age = q["oldest_age_s"]
        oldest = format_duration(timedelta(seconds=int(age))) if age is not None else "-"
        worked = q["worked_by"] or {}
        who = (f"team {worked['team']}" + (" (dealt)" if q["dealt"] else "")
               if "team" in worked else
               f"teams {', '.join(worked['teams'])}" if "teams" in worked else
               f"reps {', '.join(worked['reps'])}" if "reps" in worked else "claimed by hand")
        print(f"{q['queue']:<32} {q['depth']:>7}  {oldest:>8}  {who}")
    return 0


def cmd_route_replay(args: argparse.Namespace, settings: Settings) -> int:
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
