"""`leadflow route test` and `leadflow route replay`: the decision a lead would get, and
what a candidate org file would change, before anyone applies it. Both only read: no
assignment, rotation turn, timer or event comes of them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import text

from services.capture.intake import InvalidLead, lead_from_payload
from services.enrich.enrichment import enrich_lead
from services.route import store
from services.route.handlers import needs_load_counts, with_sla
from services.route.routing import Availability, Decision, decide_route
from services.score.scoring import score_lead
from shared import db
from shared.errors import ConfigError
from shared.events import utcnow
from shared.org import OrgFile, load_org_file
from shared.orgstore import OrgCache
from shared.settings import Settings

PAGE = 1000


def read_lead_file(path: Path, org: OrgFile, now: datetime) -> tuple[dict[str, Any], list[str]]:
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
    lead = dict(document)
    if not lead.get("lead_id") or not lead.get("person_key"):
        try:
            captured = lead_from_payload(lead, provider="api", channel="api", now=now)
        except InvalidLead as exc:
            raise ConfigError(f"{path}: not a valid lead ({exc.field}: {exc.reason})") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                                 for e in exc.errors())
            raise ConfigError(f"{path}: not a valid lead ({problems})") from None
        lead = enrich_lead(captured.model_dump(mode="json"))
        notes.append("validated and normalized as capture and enrich would (no "
                     "firmographics lookup, no account match)")
    if not lead.get("score"):
        lead["score"] = score_lead(lead, org.scoring, now, org.scoring_version).model_dump(
            mode="json")
        notes.append(f"scored with model {org.scoring_version}")
    lead.pop("assignment", None)
    return lead, notes


@dataclass
class TestResult:
    lead: dict[str, Any]
    decision: Decision
    org: OrgFile
    notes: list[str]
    holder: str | None


async def route_test(settings: Settings, lead_path: Path, org_path: Path | None = None
                     ) -> TestResult:
    """The decision the lead would get now, from the stored rotations, availability and
    the rep who holds the person; with `org_path`, under that org file instead."""
    engine = db.create_engine(settings.database_url, pool_size=1)
    now = utcnow()
    try:
        org = load_org_file(org_path) if org_path else await OrgCache(engine).current()
        lead, notes = read_lead_file(lead_path, org, now)
        async with db.connection(engine) as conn:
            await conn.execute(text("SET TRANSACTION READ ONLY"))
            rotations = await store.read_rotations(conn, [t.id for t in org.teams])
            avail = await store.load_availability(conn, counts_needed=needs_load_counts(org))
            held = {}
            if org.routing.sticky is not None:
                held = await store.holders(conn, [lead["person_key"]],
                                           now - org.routing.sticky.within)
            await conn.rollback()
    finally:
        await engine.dispose()
    holder = held.get(lead["person_key"], (None, None))[0]
    decision = decide_route(lead, org, rotations, avail, now, holder=holder)
    with_sla(decision.assignment, lead, org, now)
    return TestResult(lead, decision, org, notes, holder)


def destination(assignment: dict[str, Any]) -> str:
    """Where a decision sends a lead, as one comparable phrase."""
    kind = assignment.get("kind")
    if kind == "nurture":
        return f"nurture {assignment.get('track')}"
    if kind == "queue":
        return f"queue {assignment.get('queue')}"
    if assignment.get("strategy") in ("account_owner", "named", "sticky"):
        return f"rep {assignment.get('rep_id')} ({assignment.get('team_id')})"
    return f"team {assignment.get('team_id')}"


@dataclass
class Replay:
    since: datetime
    leads: int = 0
    moved: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)
    live_version: str = ""
    candidate_version: str = ""


def replay_one(lead: dict[str, Any], at: datetime, holder: str | None, live: OrgFile,
               candidate: OrgFile, result: Replay, max_examples: int = 10) -> None:
    before = decide_route(lead, live, {}, Availability(), at, holder=holder)
    after = decide_route(lead, candidate, {}, Availability(), at, holder=holder)
    result.leads += 1
    was, now = destination(before.assignment), destination(after.assignment)
    if was == now:
        return
    result.moved += 1
    result.transitions[(was, now)] += 1
    if len(result.examples) < max_examples:
        result.examples.append({
            "lead_id": lead.get("lead_id"), "routed_at": at.isoformat(),
            "before": was, "after": now,
            "rule_before": before.assignment.get("rule"),
            "rule_after": after.assignment.get("rule"),
            "reason_after": after.assignment.get("reason"),
        })


async def route_replay(settings: Settings, since: timedelta, candidate_path: Path) -> Replay:
    """Every lead first routed within `since`, decided again under the live and under the
    candidate org file, as of the instant it was routed (team hours, holidays and dated
    leave then); counts the leads whose destination differs."""
    candidate = load_org_file(candidate_path)  # OrgError names file, path and problem
    engine = db.create_engine(settings.database_url, pool_size=1)
    start = utcnow() - since
    try:
        live = await OrgCache(engine).current()
        result = Replay(start, live_version=live.version, candidate_version=candidate.version)
        after_at, after_id = start, "00000000-0000-0000-0000-000000000000"
        # Who held a returning person then: the longer of the two files' sticky windows
        # (a file without stickiness ignores the holder).
        window = max((o.routing.sticky.within for o in (live, candidate) if o.routing.sticky),
                     default=timedelta(0))
        while True:
            async with db.connection(engine) as conn:
                rows = (await conn.execute(text("""
                    SELECT lead_id, assigned_at, event -> 'data' AS lead FROM route.assignments
                    WHERE attempt = 1 AND (assigned_at, lead_id) > (:at, CAST(:id AS uuid))
                    ORDER BY assigned_at, lead_id LIMIT :n"""),
                    {"at": after_at, "id": after_id, "n": PAGE})).all()
                keys = [r.lead["person_key"] for r in rows if r.lead.get("person_key")]
                held = await store.holders_before(conn, keys, rows[0].assigned_at - window
                                                  if rows else start, window)
            if not rows:
                break
            for row in rows:
                lead = dict(row.lead)
                lead.pop("assignment", None)
                holder = held.holder(lead.get("person_key"), str(row.lead_id), row.assigned_at)
                replay_one(lead, row.assigned_at, holder, live, candidate, result)
            after_at, after_id = rows[-1].assigned_at, str(rows[-1].lead_id)
    finally:
        await engine.dispose()
    return result
