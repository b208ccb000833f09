"""Score's `leadflow` subcommands: `score explain` (a lead's score, rule by rule) and
`score compare` (what a candidate org file's scoring would change; read-only)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from services.score.tools import compare, explain
from shared.commands import Subparsers, command
from shared.settings import Settings


def register(sub: Subparsers) -> None:
    s = sub.add_parser("score", help="scores: explain one, compare a candidate model")
    score_sub = s.add_subparsers(dest="action", required=True)
    a = score_sub.add_parser("explain", help="a lead's score, rule by rule")
    a.add_argument("lead_id")
    command(a, cmd_score_explain, database=True)
    a = score_sub.add_parser("compare", help="what a candidate org file's scoring would "
                             "change for the stored leads (read-only)")
    a.add_argument("file")
    command(a, cmd_score_compare, database=True)


def cmd_score_explain(args: argparse.Namespace, settings: Settings) -> int:
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


def cmd_score_compare(args: argparse.Namespace, settings: Settings) -> int:
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
