"""`leadflow route test`: the decision a lead would get now, a dry run across the whole
pipeline. The lead in the file is validated as capture would, normalized as enrich would
(no firmographics lookup, no account match) and scored as score would, then route decides
with its stored rotations and availability. Nothing is assigned, stored or published.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from services.capture.intake import InvalidLeadError, lead_from_payload
from services.enrich.enrichment import enrich_lead
from services.route.routing import Decision
from services.route.tools import decide_now, org_in_force
from services.score.scoring import score_lead
from shared.commands import Subparsers, command
from shared.errors import ConfigError
from shared.events import utcnow
from shared.lead import LeadData, lead_data
from shared.org import OrgFile
from shared.settings import Settings


def read_lead_file(path: Path, org: OrgFile, now: datetime) -> tuple[LeadData, list[str]]:
    """A lead from a JSON file, and notes on what was done to it. The file may hold an
    event (as `leadflow tail` prints), a lead in DESIGN's shape, or a `POST /v1/leads`
    body; a lead that has not been through the pipeline is validated, normalized (no
    firmographics lookup, no account match) and scored with `org`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a JSON object (a lead or an event)")
    notes: list[str] = []
    if isinstance(document.get("data"), dict) and "specversion" in document:
        document = document["data"]
        notes.append("read the lead from the event's data")
    lead: dict[str, Any] = dict(document)
    if not lead.get("lead_id") or not lead.get("person_key"):
        try:
            captured = lead_from_payload(lead, provider="api", channel="api", now=now)
        except InvalidLeadError as exc:
            raise ConfigError(f"{path}: not a valid lead ({exc.field}: {exc.reason})") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                                 for e in exc.errors())
            raise ConfigError(f"{path}: not a valid lead ({problems})") from None
        lead = dict(enrich_lead(lead_data(captured)))
        notes.append("validated and normalized as capture and enrich would (no "
                     "firmographics lookup, no account match)")
    if not lead.get("score"):
        lead["score"] = score_lead(lead, org.scoring, now, org.scoring_version).model_dump(
            mode="json")
        notes.append(f"scored with model {org.scoring_version}")
    lead.pop("assignment", None)
    return cast(LeadData, lead), notes




@dataclass
class TestResult:
    lead: LeadData
    decision: Decision
    org: OrgFile
    notes: list[str]
    holder: str | None


async def route_test(settings: Settings, lead_path: Path, org_path: Path | None = None
                     ) -> TestResult:
    """The decision the lead would get now, from the stored rotations, availability and
    the rep who holds the person; with `org_path`, under that org file instead."""
    now = utcnow()
    org = await org_in_force(settings, org_path)
    lead, notes = read_lead_file(lead_path, org, now)
    decision, holder = await decide_now(settings, lead, org, now)
    return TestResult(lead, decision, org, notes, holder)


def register(route_sub: Subparsers) -> None:
    a = route_sub.add_parser("test", help="the decision a lead would get now (a dry run)")
    a.add_argument("--lead", required=True, metavar="FILE.json",
                   help="a lead, an event from `leadflow tail --raw`, or a POST /v1/leads body")
    a.add_argument("--org", metavar="ORG_FILE", help="decide under this org file instead")
    a.add_argument("--json", action="store_true", help="print the decision record as JSON")
    command(a, cmd_route_test, database=True)


def queue_phrase(org: OrgFile, queue: str, team_id: str | None) -> str:
    """Who takes a lead waiting in `queue`, in words."""
    dealer = org.dealer(queue, team_id)
    if dealer is not None:
        return (f"waits in {queue}; dealt to team {dealer.id}'s reps ({dealer.strategy}, "
                f"{org.queue_order(queue, dealer)} first) as soon as one is eligible")
    entry = org.queue(queue)
    if entry is not None and entry.worked_by.reps:
        return f"waits in {queue} for {', '.join(entry.worked_by.reps)} to claim it"
    return f"waits in {queue} for a rep to claim it (POST /v1/leads/{{id}}/claim)"


def cmd_route_test(args: argparse.Namespace, settings: Settings) -> int:
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
    if decision.teams_tried:
        print("teams tried (overflow):")
        for tried in decision.teams_tried:
            print(f"  {tried['team_id']}:")
            for c in tried["candidates"]:
                print(f"    {c['rep_id']:<22} {c['passed_over'] or 'chosen'}")
    elif decision.candidates:
        print("candidates:")
        for c in decision.candidates:
            print(f"  {c['rep_id']:<24} {c['passed_over'] or 'chosen'}")
    a = decision.assignment
    where = {"rep": lambda: f"rep {a.get('rep_id')} ({a.get('team_id')})",
             "nurture": lambda: f"nurture track {a.get('track')}",
             "queue": lambda: f"queue {a.get('queue')}"}[a["kind"]]()
    print(f"decision: {where}; rule {a.get('rule')}, reason {a.get('reason')}"
          + (f", strategy {a['strategy']}" if a.get("strategy") else ""))
    if a.get("overflow_from"):
        print(f"overflow: nobody in {a['overflow_from']} was eligible; "
              f"team {a.get('team_id')} took it")
    if a["kind"] == "queue":
        print(f"queue: {queue_phrase(result.org, a.get('queue') or '', a.get('team_id'))}")
    sla = a.get("sla")
    if sla is not None:
        print(f"SLA: {sla['temperature']}, due {sla['due_at']} ({sla['clock']} clock)"
              + (f", reminders at {', '.join(sla['warn_at'])}" if sla.get("warn_at") else ""))
    if decision.rotation is not None:
        print(f"rotation after: {decision.rotation.team_id} last rep "
              f"{decision.rotation.last_rep_id}, turn {decision.rotation.turns}")
    print("a dry run: nothing was assigned, stored or published")
    return 0
