"""Route's side of the dry runs: the decision a lead would get now (`leadflow route
test`, which prepares the lead through capture, enrich and score in the `leadflow`
package) and what a candidate org file would change (`leadflow route replay`), before
anyone applies it. Both only read: no assignment, rotation turn, timer or event comes
of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from services.route import store
from services.route.assignments import needs_load_counts, with_sla
from services.route.routing import Availability, Decision, decide_route
from services.route.worklists import queues_view
from shared import db
from shared.events import utcnow
from shared.lead import AssignmentData, LeadData
from shared.org import OrgFile, load_org_file
from shared.orgstore import OrgCache
from shared.settings import Settings

PAGE = 1000


async def org_in_force(settings: Settings, org_path: Path | None = None) -> OrgFile:
    """The org file a dry run decides under: `org_path` when given, else the live one."""
    if org_path:
        return load_org_file(org_path)
    engine = db.create_engine(settings.database_url, pool_size=1)
    try:
        return await OrgCache(engine).current()
    finally:
        await engine.dispose()


async def decide_now(settings: Settings, lead: LeadData, org: OrgFile, now: datetime
                     ) -> tuple[Decision, str | None]:
    """The decision `lead` would get at `now` under `org`, from the stored rotations,
    availability and the rep who holds the person (read in a read-only transaction),
    with its SLA clock; and that holder. Nothing is written."""
    engine = db.create_engine(settings.database_url, pool_size=1)
    try:
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
    return decision, holder


def destination(assignment: AssignmentData) -> str:
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


def replay_one(lead: LeadData, at: datetime, holder: str | None, live: OrgFile,
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
                lead = store.lead_of(row.lead)
                lead.pop("assignment", None)
                holder = held.holder(lead.get("person_key"), str(row.lead_id), row.assigned_at)
                replay_one(lead, row.assigned_at, holder, live, candidate, result)
            after_at, after_id = rows[-1].assigned_at, str(rows[-1].lead_id)
    finally:
        await engine.dispose()
    return result


async def queues_now(settings: Settings) -> list[dict[str, Any]]:
    """Every queue with its depth, oldest lead and who works it (`leadflow queues`)."""
    engine = db.create_engine(settings.database_url, pool_size=1)
    try:
        org = await OrgCache(engine).current()
        async with db.connection(engine) as conn:
            return await queues_view(conn, org, utcnow())
    finally:
        await engine.dispose()
