"""Route's tables: assignments (one per lead and attempt, with their decision record and
the event published for it, whose data is the lead as it then stood), each lead's
current state (`route.leads`: where it waits or who holds it, for queues and worklists),
team rotations (locked while a batch decides), rep availability, SLA timers, the journey
log and the notification outbox.

Locks are taken in one order everywhere, so route's writers never deadlock: the team
rotations, then a lead's current state, then its SLA clocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.route.queues import Waiting
from services.route.routing import Availability, Rotation
from shared.lead import AssignmentData, LeadData


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def lock_rotations(conn: AsyncConnection, team_ids: list[str]) -> dict[str, Rotation]:
    """Lock every team's rotation row for this transaction (sorted, so replicas never
    deadlock); route replicas deciding at once take turns here, which keeps rotations
    fair and assignments single."""
    team_ids = sorted(set(team_ids))
    if not team_ids:
        return {}
    await conn.execute(text(
        "INSERT INTO route.rotations (team_id) SELECT unnest(CAST(:t AS text[])) "
        "ON CONFLICT (team_id) DO NOTHING"), {"t": team_ids})
    rows = (await conn.execute(text(
        "SELECT team_id, last_rep_id, turns, state FROM route.rotations "
        "WHERE team_id = ANY(CAST(:t AS text[])) ORDER BY team_id FOR UPDATE"),
        {"t": team_ids})).all()
    return {r.team_id: _rotation(r) for r in rows}


async def read_rotations(conn: AsyncConnection, team_ids: list[str]) -> dict[str, Rotation]:
    """The teams' rotation state without locking it (for a dry run)."""
    rows = (await conn.execute(text(
        "SELECT team_id, last_rep_id, turns, state FROM route.rotations "
        "WHERE team_id = ANY(CAST(:t AS text[]))"), {"t": sorted(set(team_ids))})).all()
    return {r.team_id: _rotation(r) for r in rows}


def _rotation(r: Any) -> Rotation:
    return Rotation(r.team_id, r.last_rep_id, r.turns,
                    dict((r.state or {}).get("credits", {})),
                    (r.state or {}).get("last_position"))


async def save_rotations(conn: AsyncConnection, rotations: list[Rotation]) -> None:
    if not rotations:
        return
    await conn.execute(text("""
        UPDATE route.rotations r SET last_rep_id = x.l, turns = x.n, state = CAST(x.s AS json),
               updated_at = now()
        FROM unnest(CAST(:t AS text[]), CAST(:l AS text[]), CAST(:n AS bigint[]),
                    CAST(:s AS text[])) AS x(t, l, n, s)
        WHERE r.team_id = x.t"""), {
        "t": [r.team_id for r in rotations], "l": [r.last_rep_id for r in rotations],
        "n": [r.turns for r in rotations],
        "s": [_json({"credits": r.credits, "last_position": r.last_position})
              for r in rotations],
    })


async def load_availability(conn: AsyncConnection, *, counts_needed: bool = True) -> Availability:
    """Reps marked unavailable, and (when a cap or least_loaded needs them) each rep's
    open assignments."""
    off = (await conn.execute(text(
        "SELECT rep_id FROM route.reps WHERE NOT available"))).scalars().all()
    if not counts_needed:
        return Availability(frozenset(off), {})
    counts = (await conn.execute(text(
        "SELECT rep_id, count(*) AS n FROM route.sla_timers WHERE state = 'open' "
        "GROUP BY rep_id"))).all()
    return Availability(frozenset(off), {r.rep_id: int(r.n) for r in counts})


async def load_latest_assignment_events(conn: AsyncConnection, lead_ids: list[str]
                                        ) -> dict[str, dict[str, Any]]:
    """Each lead's latest assignment event (the highest attempt)."""
    if not lead_ids:
        return {}
    rows = (await conn.execute(text(
        "SELECT DISTINCT ON (lead_id) lead_id, event FROM route.assignments "
        "WHERE lead_id = ANY(CAST(:i AS uuid[])) ORDER BY lead_id, attempt DESC"),
        {"i": lead_ids})).all()
    return {str(r.lead_id): r.event for r in rows}


async def reps_tried(conn: AsyncConnection, lead_ids: list[str]
                     ) -> dict[str, frozenset[str]]:
    """Each lead's reps so far (any attempt); a lead no rep had is absent."""
    if not lead_ids:
        return {}
    rows = (await conn.execute(text(
        "SELECT lead_id, array_agg(DISTINCT rep_id) AS reps FROM route.assignments "
        "WHERE lead_id = ANY(CAST(:i AS uuid[])) AND rep_id IS NOT NULL GROUP BY lead_id"),
        {"i": lead_ids})).all()
    return {str(r.lead_id): frozenset(r.reps) for r in rows}


@dataclass
class AssignmentRow:
    lead_id: str
    assignment: AssignmentData
    org_version: str
    event_id: str
    at: datetime
    decision: dict[str, Any]
    event: bytes  # the encoded event, exactly as published
    lead: LeadData  # the lead the event carries: what `route.leads` keeps of it


async def insert_assignments(conn: AsyncConnection, rows: list[AssignmentRow], *,
                             unpublished: bool = False) -> set[str]:
    """Insert; returns the lead ids whose (lead, attempt) row was new. Each new row
    becomes its lead's current state in `route.leads` (when no later attempt is there).
    `unpublished`: the caller publishes the events after committing (`mark_published`
    once the broker has them)."""
    if not rows:
        return set()
    a = [r.assignment for r in rows]
    result = await conn.execute(text("""
        WITH ins AS (
            INSERT INTO route.assignments (lead_id, attempt, kind, rep_id, team_id, track,
                queue, rule, reason, strategy, org_version, event_id, assigned_at, decision,
                event, unpublished_since)
            SELECT CAST(i AS uuid), at, k, rep, team, tr, q, ru, re, st, ov, CAST(e AS uuid),
                   ts, CAST(d AS json), CAST(ev AS json),
                   CASE WHEN CAST(:unpublished AS boolean) THEN ts END
            FROM unnest(CAST(:i AS text[]), CAST(:at AS int[]), CAST(:k AS text[]),
                        CAST(:rep AS text[]), CAST(:team AS text[]), CAST(:tr AS text[]),
                        CAST(:q AS text[]), CAST(:ru AS text[]), CAST(:re AS text[]),
                        CAST(:st AS text[]), CAST(:ov AS text[]), CAST(:e AS text[]),
                        CAST(:ts AS timestamptz[]), CAST(:d AS text[]), CAST(:ev AS text[]))
                 AS x(i, at, k, rep, team, tr, q, ru, re, st, ov, e, ts, d, ev)
            ON CONFLICT (lead_id, attempt) DO NOTHING
            RETURNING lead_id, attempt, kind, rep_id, team_id, track, queue, assigned_at
        ), current AS (
            INSERT INTO route.leads (lead_id, attempt, state, kind, rep_id, team_id, queue,
                                     track, temperature, points, provider, utm_source,
                                     received_at, assigned_at, due_at)
            SELECT ins.lead_id, ins.attempt,
                   CASE ins.kind WHEN 'queue' THEN 'queued' WHEN 'nurture' THEN 'nurture'
                                 ELSE 'open' END,
                   ins.kind, ins.rep_id, ins.team_id, ins.queue, ins.track, c.tp, c.pt, c.pv,
                   c.us, c.rc, ins.assigned_at, c.du
            FROM ins JOIN unnest(CAST(:i AS uuid[]), CAST(:at AS int[]), CAST(:tp AS text[]),
                                 CAST(:pt AS int[]), CAST(:pv AS text[]), CAST(:us AS text[]),
                                 CAST(:rc AS timestamptz[]), CAST(:du AS timestamptz[]))
                      AS c(i, a, tp, pt, pv, us, rc, du)
                      ON c.i = ins.lead_id AND c.a = ins.attempt
            ON CONFLICT (lead_id) DO UPDATE SET
                attempt = EXCLUDED.attempt, state = EXCLUDED.state, kind = EXCLUDED.kind,
                rep_id = EXCLUDED.rep_id, team_id = EXCLUDED.team_id, queue = EXCLUDED.queue,
                track = EXCLUDED.track, temperature = EXCLUDED.temperature,
                points = EXCLUDED.points, provider = EXCLUDED.provider,
                utm_source = EXCLUDED.utm_source, assigned_at = EXCLUDED.assigned_at,
                due_at = EXCLUDED.due_at, touched_at = NULL
            WHERE route.leads.attempt < EXCLUDED.attempt
        )
        SELECT lead_id FROM ins"""), {
        "i": [r.lead_id for r in rows], "at": [x["attempt"] for x in a],
        "k": [x["kind"] for x in a], "rep": [x.get("rep_id") for x in a],
        "team": [x.get("team_id") for x in a], "tr": [x.get("track") for x in a],
        "q": [x.get("queue") for x in a], "ru": [x.get("rule") for x in a],
        "re": [x.get("reason") for x in a], "st": [x.get("strategy") for x in a],
        "ov": [r.org_version for r in rows], "e": [r.event_id for r in rows],
        "ts": [r.at for r in rows], "d": [_json(r.decision) for r in rows],
        "ev": [r.event.decode() for r in rows],
        "tp": [(r.lead.get("score") or {}).get("temperature") for r in rows],
        "pt": [_points(r.lead) for r in rows],
        "pv": [(r.lead.get("source") or {}).get("provider") for r in rows],
        "us": [(r.lead.get("source") or {}).get("utm_source") for r in rows],
        "rc": [datetime.fromisoformat(r.lead["received_at"]) for r in rows],
        "du": [_due(x) for x in a], "unpublished": unpublished,
    })
    return {str(x) for x in result.scalars().all()}


async def mark_published(conn: AsyncConnection, keys: list[tuple[str, int]]) -> None:
    if not keys:
        return
    await conn.execute(text("""
        UPDATE route.assignments a SET unpublished_since = NULL
        FROM unnest(CAST(:i AS uuid[]), CAST(:a AS int[])) AS x(i, a)
        WHERE a.lead_id = x.i AND a.attempt = x.a"""),
        {"i": [k[0] for k in keys], "a": [k[1] for k in keys]})


@dataclass(frozen=True)
class Unpublished:
    lead_id: str
    attempt: int
    event: dict[str, Any]


async def oldest_unpublished(conn: AsyncConnection) -> datetime | None:
    value: datetime | None = (await conn.execute(text(
        "SELECT min(unpublished_since) FROM route.assignments "
        "WHERE unpublished_since IS NOT NULL"))).scalar()
    return value


async def claim_unpublished(conn: AsyncConnection, before: datetime, limit: int
                            ) -> list[Unpublished]:
    """Assignments committed before `before` whose event the broker never acknowledged
    (a crash or an outage after the commit), locked; replicas skip each other's."""
    rows = (await conn.execute(text("""
        SELECT lead_id, attempt, event FROM route.assignments
        WHERE unpublished_since IS NOT NULL AND unpublished_since <= :before
        ORDER BY unpublished_since LIMIT :n FOR UPDATE SKIP LOCKED"""),
        {"before": before, "n": limit})).all()
    return [Unpublished(str(r.lead_id), r.attempt, r.event) for r in rows]


def _points(lead: LeadData) -> int | None:
    points = (lead.get("score") or {}).get("points")
    return None if points is None else int(points)


def _due(assignment: AssignmentData) -> datetime | None:
    sla = assignment.get("sla")
    return datetime.fromisoformat(sla["due_at"]) if sla else None


@dataclass
class Timer:
    lead_id: str
    attempt: int
    rep_id: str
    team_id: str
    temperature: str
    clock: str
    started_at: datetime
    due_at: datetime
    warn_ats: list[datetime] = field(default_factory=list)  # sla.warning times, in order
    state: str = "open"


async def insert_timers(conn: AsyncConnection, timers: list[Timer]) -> None:
    if not timers:
        return
    await conn.execute(text("""
        INSERT INTO route.sla_timers (lead_id, attempt, rep_id, team_id, temperature, clock,
                                      started_at, due_at, warn_ats)
        SELECT i, a, r, t, tp, c, s, d, CAST(w AS timestamptz[])
        FROM unnest(CAST(:i AS uuid[]), CAST(:a AS int[]), CAST(:r AS text[]),
                    CAST(:t AS text[]), CAST(:tp AS text[]), CAST(:c AS text[]),
                    CAST(:s AS timestamptz[]), CAST(:d AS timestamptz[]), CAST(:w AS text[]))
             AS x(i, a, r, t, tp, c, s, d, w)
        ON CONFLICT (lead_id, attempt) DO NOTHING"""), {
        "i": [t.lead_id for t in timers], "a": [t.attempt for t in timers],
        "r": [t.rep_id for t in timers], "t": [t.team_id for t in timers],
        "tp": [t.temperature for t in timers], "c": [t.clock for t in timers],
        "s": [t.started_at for t in timers], "d": [t.due_at for t in timers],
        "w": ["{" + ",".join(f'"{w.isoformat()}"' for w in t.warn_ats) + "}"
              for t in timers],
    })


@dataclass(frozen=True)
class DueWarning:
    """An open timer with a reminder due: `step` is the latest reminder now due, of
    `total`; `lead` is the lead as its assignment event carries it."""

    lead_id: str
    attempt: int
    rep_id: str
    team_id: str
    temperature: str
    due_at: datetime
    total: int
    step: int
    lead: LeadData


async def claim_due_warnings(conn: AsyncConnection, now: datetime, limit: int
                             ) -> list[DueWarning]:
    """Open timers whose next reminder is due and whose deadline is not (a due deadline is
    a breach, not a reminder), locked like `claim_due_timers`. After downtime only the
    latest reminder due is sent."""
    rows = (await conn.execute(text("""
        SELECT t.lead_id, t.attempt, t.rep_id, t.team_id, t.temperature, t.due_at,
               cardinality(t.warn_ats) AS total,
               (SELECT count(*) FROM unnest(t.warn_ats) w WHERE w <= :now) AS step,
               a.event -> 'data' AS lead
        FROM route.sla_timers t
        JOIN route.leads l ON l.lead_id = t.lead_id AND l.attempt = t.attempt
        JOIN route.assignments a ON a.lead_id = t.lead_id AND a.attempt = t.attempt
        WHERE t.state = 'open' AND t.warn_ats[t.warnings + 1] <= :now AND t.due_at > :now
        ORDER BY t.warn_ats[t.warnings + 1]
        LIMIT :limit
        FOR UPDATE OF t SKIP LOCKED"""), {"now": now, "limit": limit})).all()
    return [DueWarning(str(r.lead_id), r.attempt, r.rep_id, r.team_id, r.temperature,
                       r.due_at, int(r.total), int(r.step), lead_of(r.lead))
            for r in rows]


async def mark_warned(conn: AsyncConnection, keys: list[tuple[str, int, int]]) -> None:
    """(lead_id, attempt, reminders sent): the next reminder is the one after them."""
    if not keys:
        return
    await conn.execute(text("""
        UPDATE route.sla_timers t SET warnings = x.n
        FROM unnest(CAST(:i AS uuid[]), CAST(:a AS int[]), CAST(:n AS int[])) AS x(i, a, n)
        WHERE t.lead_id = x.i AND t.attempt = x.a"""),
        {"i": [k[0] for k in keys], "a": [k[1] for k in keys], "n": [k[2] for k in keys]})


@dataclass(frozen=True)
class DueTimer:
    """An open timer past its deadline, with the lead its assignment event carries."""

    lead_id: str
    attempt: int
    rep_id: str
    team_id: str
    temperature: str
    due_at: datetime
    lead: LeadData


async def any_timer_due(conn: AsyncConnection, now: datetime) -> bool:
    """Whether `claim_due_timers` would find anything (without locking)."""
    return (await conn.execute(text(
        "SELECT 1 FROM route.sla_timers t "
        "JOIN route.leads l ON l.lead_id = t.lead_id AND l.attempt = t.attempt "
        "WHERE t.state = 'open' AND t.due_at <= :now LIMIT 1"),
        {"now": now})).first() is not None


async def claim_due_timers(conn: AsyncConnection, now: datetime, limit: int
                           ) -> list[DueTimer]:
    """Due open timers of the leads' current attempts, locked with the leads' current
    state; replicas (and a claim or a hand move of the same lead) skip each other's
    rows, so each fires once."""
    rows = (await conn.execute(text("""
        SELECT t.lead_id, t.attempt, t.rep_id, t.team_id, t.temperature, t.clock,
               t.started_at, t.due_at, a.event -> 'data' AS lead
        FROM route.sla_timers t
        JOIN route.leads l ON l.lead_id = t.lead_id AND l.attempt = t.attempt
        JOIN route.assignments a ON a.lead_id = t.lead_id AND a.attempt = t.attempt
        WHERE t.state = 'open' AND t.due_at <= :now
        ORDER BY t.due_at
        LIMIT :limit
        FOR UPDATE OF t, l SKIP LOCKED"""), {"now": now, "limit": limit})).all()
    return [DueTimer(str(r.lead_id), r.attempt, r.rep_id, r.team_id, r.temperature, r.due_at,
                     lead_of(r.lead)) for r in rows]


async def close_timers(conn: AsyncConnection, keys: list[tuple[str, int]], state: str,
                       at: datetime) -> None:
    """Stop open clocks: met or breached (which the lead's current state shows while that
    attempt is current), rejected or superseded (a new attempt follows)."""
    if not keys:
        return
    params = {"state": state, "at": at, "i": [k[0] for k in keys], "a": [k[1] for k in keys]}
    await conn.execute(text("""
        UPDATE route.sla_timers t SET state = :state, closed_at = :at
        FROM unnest(CAST(:i AS uuid[]), CAST(:a AS int[])) AS x(i, a)
        WHERE t.lead_id = x.i AND t.attempt = x.a AND t.state = 'open'"""), params)
    if state in ("met", "breached"):
        await conn.execute(text("""
            UPDATE route.leads l SET state = :state
            FROM unnest(CAST(:i AS uuid[]), CAST(:a AS int[])) AS x(i, a)
            WHERE l.lead_id = x.i AND l.attempt = x.a AND l.kind = 'rep'"""),
            {k: v for k, v in params.items() if k != "at"})


async def supersede_open_timers(conn: AsyncConnection, lead_id: str, up_to_attempt: int,
                                at: datetime) -> None:
    """A lead moved by hand: every clock still open for its attempts so far stops."""
    await conn.execute(text(
        "UPDATE route.sla_timers SET state = 'superseded', closed_at = :at "
        "WHERE lead_id = CAST(:i AS uuid) AND state = 'open' AND attempt <= :a"),
        {"i": lead_id, "a": up_to_attempt, "at": at})


async def mark_touched(conn: AsyncConnection, lead_id: str, rep_id: str | None,
                       at: datetime) -> None:
    """Someone acted on the lead where it now is (a touch dated before its current
    assignment belongs to an earlier one and does not count): it is no longer overdue."""
    del rep_id  # a touch stops the clock whoever reports it (DESIGN.md section 7)
    await conn.execute(text(
        "UPDATE route.leads SET touched_at = coalesce(touched_at, :at) "
        "WHERE lead_id = CAST(:i AS uuid) AND kind = 'rep' "
        "AND :at >= assigned_at - interval '1 minute'"),
        {"i": lead_id, "at": at})


async def open_timer_for_update(conn: AsyncConnection, lead_id: str) -> Timer | None:
    """The lead's latest timer (any state), locked until the transaction ends."""
    row = (await conn.execute(text("""
        SELECT lead_id, attempt, rep_id, team_id, temperature, clock, started_at, due_at, state
        FROM route.sla_timers WHERE lead_id = CAST(:i AS uuid)
        ORDER BY attempt DESC LIMIT 1 FOR UPDATE"""), {"i": lead_id})).first()
    if row is None:
        return None
    return Timer(str(row.lead_id), row.attempt, row.rep_id, row.team_id, row.temperature,
                 row.clock, row.started_at, row.due_at, state=row.state)


JourneyStep = tuple[str, datetime, str, Mapping[str, Any], str]


async def add_journey(conn: AsyncConnection, entries: list[JourneyStep]) -> None:
    """Entries of (lead_id, at, step, detail, dedupe key); a repeat is ignored."""
    if not entries:
        return
    await conn.execute(text("""
        INSERT INTO route.journey (lead_id, at, step, detail, dedupe)
        SELECT CAST(i AS uuid), a, s, CAST(d AS json), k
        FROM unnest(CAST(:i AS text[]), CAST(:a AS timestamptz[]), CAST(:s AS text[]),
                    CAST(:d AS text[]), CAST(:k AS text[])) AS x(i, a, s, d, k)
        ON CONFLICT (dedupe) DO NOTHING"""), {
        "i": [e[0] for e in entries], "a": [e[1] for e in entries],
        "s": [e[2] for e in entries], "d": [_json(e[3]) for e in entries],
        "k": [e[4] for e in entries],
    })


def lead_of(data: Mapping[str, Any]) -> LeadData:
    """A stored lead (an assignment event's data) as a new dict the caller may change;
    capture validated it and route wrote it."""
    return cast(LeadData, dict(data))


async def load_lead(conn: AsyncConnection, lead_id: str) -> LeadData | None:
    """The lead as it stands: the data of its latest assignment event (route keeps no
    second copy)."""
    return (await load_leads(conn, [lead_id])).get(lead_id)


async def load_leads(conn: AsyncConnection, lead_ids: list[str]) -> dict[str, LeadData]:
    """`load_lead` for many leads in one query; a lead route never routed is absent."""
    events = await load_latest_assignment_events(conn, lead_ids)
    return {lead_id: lead_of(event["data"]) for lead_id, event in events.items()}


async def load_journey(conn: AsyncConnection, lead_id: str) -> dict[str, list[Any]]:
    steps = (await conn.execute(text(
        "SELECT at, step, detail FROM route.journey WHERE lead_id = CAST(:i AS uuid) "
        "ORDER BY at, id"), {"i": lead_id})).all()
    assignments = (await conn.execute(text(
        "SELECT attempt, kind, rep_id, team_id, track, queue, rule, reason, strategy, "
        "org_version, assigned_at, decision FROM route.assignments "
        "WHERE lead_id = CAST(:i AS uuid) ORDER BY attempt"), {"i": lead_id})).all()
    timers = (await conn.execute(text(
        "SELECT attempt, rep_id, team_id, temperature, clock, started_at, due_at, state, "
        "closed_at FROM route.sla_timers WHERE lead_id = CAST(:i AS uuid) ORDER BY attempt"),
        {"i": lead_id})).all()
    return {"steps": [dict(r._mapping) for r in steps],
            "assignments": [dict(r._mapping) for r in assignments],
            "timers": [dict(r._mapping) for r in timers]}


async def set_rep_available(conn: AsyncConnection, rep_id: str, available: bool) -> None:
    await conn.execute(text("""
        INSERT INTO route.reps (rep_id, available, updated_at) VALUES (:r, :a, now())
        ON CONFLICT (rep_id) DO UPDATE SET available = EXCLUDED.available, updated_at = now()"""),
        {"r": rep_id, "a": available})


async def holders(conn: AsyncConnection, person_keys: list[str], since: datetime
                  ) -> dict[str, tuple[str, str]]:
    """For each person, the rep (and team) of their latest rep assignment since `since`,
    when that is still their lead's current assignment (not moved on by a breach, an
    escalation or a rejection)."""
    if not person_keys:
        return {}
    rows = (await conn.execute(text("""
        SELECT DISTINCT ON (a.event -> 'data' ->> 'person_key')
               a.event -> 'data' ->> 'person_key' AS person_key, a.rep_id, a.team_id
        FROM route.assignments a
        WHERE (a.event -> 'data' ->> 'person_key') = ANY(CAST(:p AS text[]))
          AND a.rep_id IS NOT NULL AND a.assigned_at >= :since
          AND NOT EXISTS (SELECT 1 FROM route.assignments b
                          WHERE b.lead_id = a.lead_id AND b.attempt > a.attempt)
        ORDER BY a.event -> 'data' ->> 'person_key', a.assigned_at DESC"""),
        {"p": sorted(set(person_keys)), "since": since})).all()
    return {r.person_key: (r.rep_id, r.team_id) for r in rows}


@dataclass
class PastHolders:
    """Rep assignments of a set of persons, to ask who held a person at a past instant."""

    window: timedelta
    by_person: dict[str, list[tuple[datetime, str, str]]]  # (at, lead_id, rep_id), in order

    def holder(self, person_key: str | None, lead_id: str, at: datetime) -> str | None:
        found = None
        for assigned_at, other, rep_id in self.by_person.get(person_key or "", []):
            if assigned_at >= at:
                break
            if other != lead_id and assigned_at >= at - self.window:
                found = rep_id
        return found


async def holders_before(conn: AsyncConnection, person_keys: list[str], since: datetime,
                         window: timedelta) -> PastHolders:
    rows = (await conn.execute(text("""
        SELECT event -> 'data' ->> 'person_key' AS person_key, assigned_at, lead_id, rep_id
        FROM route.assignments
        WHERE (event -> 'data' ->> 'person_key') = ANY(CAST(:p AS text[]))
          AND rep_id IS NOT NULL AND assigned_at >= :since
        ORDER BY 1, assigned_at"""), {"p": sorted(set(person_keys)), "since": since})
    ).all()
    by_person: dict[str, list[tuple[datetime, str, str]]] = {}
    for r in rows:
        by_person.setdefault(r.person_key, []).append((r.assigned_at, str(r.lead_id), r.rep_id))
    return PastHolders(window, by_person)


@dataclass
class Notification:
    dedupe: str  # one notification per event, however often it is decided
    team_id: str
    kind: str  # assigned | warning | breached
    lead_id: str
    payload: dict[str, Any]
    at: datetime


async def queue_notifications(conn: AsyncConnection, items: list[Notification]) -> None:
    """Written in the decision's transaction; `notify.py` sends them after it commits."""
    if not items:
        return
    await conn.execute(text("""
        INSERT INTO route.notifications (dedupe, team_id, kind, lead_id, payload, created_at,
                                         next_at)
        SELECT k, t, kd, CAST(i AS uuid), CAST(p AS json), a, a
        FROM unnest(CAST(:k AS text[]), CAST(:t AS text[]), CAST(:kd AS text[]),
                    CAST(:i AS text[]), CAST(:p AS text[]), CAST(:a AS timestamptz[]))
             AS x(k, t, kd, i, p, a)
        ON CONFLICT (dedupe) DO NOTHING"""), {
        "k": [n.dedupe for n in items], "t": [n.team_id for n in items],
        "kd": [n.kind for n in items], "i": [n.lead_id for n in items],
        "p": [_json(n.payload) for n in items], "a": [n.at for n in items],
    })


@dataclass(frozen=True)
class Leased:
    """A notification leased for sending; `attempts` counts this one."""

    id: int
    team_id: str
    kind: str
    lead_id: str
    payload: dict[str, Any]
    attempts: int


async def lease_notifications(conn: AsyncConnection, now: datetime, lease_s: float,
                              limit: int) -> list[Leased]:
    """Pending notifications now due, leased for `lease_s` (another replica, or this one
    after a crash, takes them up once the lease runs out)."""
    rows = (await conn.execute(text("""
        UPDATE route.notifications n
        SET next_at = :now + make_interval(secs => :lease), attempts = n.attempts + 1
        WHERE n.id IN (SELECT id FROM route.notifications
                       WHERE state = 'pending' AND next_at <= :now
                       ORDER BY next_at LIMIT :limit FOR UPDATE SKIP LOCKED)
        RETURNING n.id, n.team_id, n.kind, n.lead_id, n.payload, n.attempts"""),
        {"now": now, "lease": lease_s, "limit": limit})).all()
    return [Leased(r.id, r.team_id, r.kind, str(r.lead_id), r.payload, r.attempts)
            for r in rows]


async def finish_notification(conn: AsyncConnection, notification_id: int, state: str,
                              at: datetime, error: str | None,
                              retry_at: datetime | None = None) -> None:
    """sent, failed (given up) or, with `retry_at`, pending again."""
    await conn.execute(text("""
        UPDATE route.notifications
        SET state = :state, last_error = :error, next_at = coalesce(:retry, next_at),
            sent_at = CASE WHEN :state = 'sent' THEN CAST(:at AS timestamptz) END
        WHERE id = :id"""),
        {"state": state, "error": error, "retry": retry_at, "at": at, "id": notification_id})


# --------------------------------------------------------------------------- queues

@dataclass(frozen=True)
class WaitingGroup:
    """Leads waiting in one queue from one team (or none): how many, since when."""

    queue: str
    team_id: str | None
    depth: int
    oldest_at: datetime


async def waiting_groups(conn: AsyncConnection) -> list[WaitingGroup]:
    rows = (await conn.execute(text(
        "SELECT queue, team_id, count(*) AS n, min(assigned_at) AS oldest "
        "FROM route.leads WHERE state = 'queued' GROUP BY queue, team_id "
        "ORDER BY queue, team_id NULLS FIRST"))).all()
    return [WaitingGroup(r.queue, r.team_id, int(r.n), r.oldest) for r in rows]


@dataclass(frozen=True)
class QueuedLead:
    """A waiting lead, locked: what dealing reads and the decision that queued it."""

    waiting: Waiting
    lead: LeadData
    decision: dict[str, Any]


HOTTEST = ("CASE l.temperature WHEN 'hot' THEN 0 WHEN 'warm' THEN 1 WHEN 'cold' THEN 2 "
           "ELSE 3 END, coalesce(l.points, 0) DESC, l.assigned_at, l.lead_id")
OLDEST = "l.assigned_at, l.lead_id"


async def claim_waiting(conn: AsyncConnection, queue: str, team_id: str | None, order: str,
                        limit: int, skip: list[str]) -> list[QueuedLead]:
    """Up to `limit` leads waiting in `queue` (from `team_id`'s leads only, when given), in
    the queue's order, locked; replicas and hand claims skip each other's rows."""
    rows = (await conn.execute(text(f"""
        SELECT l.lead_id, l.attempt, l.queue, l.assigned_at, l.temperature, l.points,
               a.event -> 'data' AS lead, a.decision
        FROM route.leads l
        JOIN route.assignments a ON a.lead_id = l.lead_id AND a.attempt = l.attempt
        WHERE l.state = 'queued' AND l.queue = :q
          AND (CAST(:t AS text) IS NULL OR l.team_id = :t)
          AND l.lead_id <> ALL(CAST(:skip AS uuid[]))
        ORDER BY {HOTTEST if order == "hottest" else OLDEST}
        LIMIT :n
        FOR UPDATE OF l SKIP LOCKED"""),
        {"q": queue, "t": team_id, "skip": skip, "n": limit})).all()
    return [QueuedLead(Waiting(str(r.lead_id), r.attempt, r.queue, r.assigned_at,
                               r.temperature, r.points), lead_of(r.lead), r.decision or {})
            for r in rows]


@dataclass(frozen=True)
class Current:
    """A lead's current state (`route.leads`)."""

    lead_id: str
    attempt: int
    state: str
    kind: str
    rep_id: str | None
    team_id: str | None
    queue: str | None
    track: str | None
    assigned_at: datetime
    due_at: datetime | None


async def lock_current(conn: AsyncConnection, lead_ids: list[str]) -> None:
    """Lock the current state of the leads route already has (in id order), before
    anything else of theirs is written."""
    if lead_ids:
        await conn.execute(text(
            "SELECT 1 FROM route.leads WHERE lead_id = ANY(CAST(:i AS uuid[])) "
            "ORDER BY lead_id FOR UPDATE"), {"i": sorted(set(lead_ids))})


async def current_for_update(conn: AsyncConnection, lead_id: str) -> Current | None:
    """The lead's current state, locked until the transaction ends (a claim, a manual
    assignment and dealing take turns on it)."""
    r = (await conn.execute(text(
        "SELECT lead_id, attempt, state, kind, rep_id, team_id, queue, track, assigned_at, "
        "due_at FROM route.leads WHERE lead_id = CAST(:i AS uuid) FOR UPDATE"),
        {"i": lead_id})).first()
    if r is None:
        return None
    return Current(str(r.lead_id), r.attempt, r.state, r.kind, r.rep_id, r.team_id, r.queue,
                   r.track, r.assigned_at, r.due_at)


@dataclass(frozen=True)
class QueueStats:
    queue: str
    depth: int
    oldest_at: datetime | None
    oldest_lead_id: str | None
    hottest: dict[str, Any] | None  # lead_id, temperature, points


async def queue_stats(conn: AsyncConnection) -> dict[str, QueueStats]:
    """Every queue with waiting leads: depth, its oldest and its hottest lead."""
    rows = (await conn.execute(text(f"""
        SELECT q.queue, q.n, o.lead_id AS oldest_id, o.assigned_at AS oldest_at,
               h.lead_id AS hot_id, h.temperature, h.points
        FROM (SELECT queue, count(*) AS n FROM route.leads WHERE state = 'queued'
              GROUP BY queue) q
        CROSS JOIN LATERAL (SELECT l.lead_id, l.assigned_at FROM route.leads l
                            WHERE l.state = 'queued' AND l.queue = q.queue
                            ORDER BY {OLDEST} LIMIT 1) o
        CROSS JOIN LATERAL (SELECT l.lead_id, l.temperature, l.points FROM route.leads l
                            WHERE l.state = 'queued' AND l.queue = q.queue
                            ORDER BY {HOTTEST} LIMIT 1) h
        ORDER BY q.queue"""))).all()
    return {r.queue: QueueStats(r.queue, int(r.n), r.oldest_at, str(r.oldest_id),
                                {"lead_id": str(r.hot_id), "temperature": r.temperature,
                                 "points": r.points}) for r in rows}
