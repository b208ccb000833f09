"""Capture's `leadflow` subcommands: `capture trace` (a lead's receipt, payload and raw
deliveries) and `capture replay` (its lead.captured published again)."""

from __future__ import annotations

import argparse
import asyncio
import json

from services.capture.replay import replay, trace
from shared.commands import Subparsers, command
from shared.settings import Settings


def register(sub: Subparsers) -> None:
    s = sub.add_parser("capture", help="accepted leads: trace and replay")
    cap_sub = s.add_subparsers(dest="action", required=True)
    a = cap_sub.add_parser("trace", help="a lead's receipt, payload and raw deliveries")
    a.add_argument("lead_id")
    a.add_argument("--full", action="store_true", help="print whole bodies")
    command(a, cmd_capture_trace, database=True)
    a = cap_sub.add_parser("replay", help="publish an accepted lead's lead.captured again")
    a.add_argument("lead_id")
    command(a, cmd_capture_replay, kafka=True, database=True)


def cmd_capture_trace(args: argparse.Namespace, settings: Settings) -> int:
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


def cmd_capture_replay(args: argparse.Namespace, settings: Settings) -> int:
    lead = asyncio.run(replay(settings, args.lead_id))
    print(f"published lead.captured for {lead.lead_id} again (same lead and event id)")
    return 0
