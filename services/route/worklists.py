"""What is waiting, and for whom: the lead list (`GET /v1/leads`, a rep's worklist with
`?rep=ana&status=open`) and the queues overview (`GET /v1/queues`), both answered from
`route.leads`, one indexed row per lead.

Status is the lead's current assignment: `queued` (in a queue), `nurture`, and for a lead
with a rep `open` (its clock running, or no SLA), `overdue` (untouched past its deadline:
an open clock past due, or a breach the rep kept), `met` (touched in time) and `breached`
(the clock ran out or the touch came late; such a lead may be overdue too). Newest first
by when the lead entered its current assignment, keyset-paginated: the cursor is the last
row's (time, lead id), opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.route import store
from shared.org import OrgFile

Status = Literal["queued", "open", "overdue", "met", "breached", "nurture"]
MAX_LIMIT = 500

_STATUS_SQL: dict[str, str] = {
    "queued": "l.state = 'queued'",
    "nurture": "l.state = 'nurture'",
    "open": "l.state = 'open' AND (l.due_at IS NULL OR l.due_at > :now)",
    "overdue": ("l.touched_at IS NULL AND l.state IN ('open', 'breached') "
                "AND l.due_at <= :now"),
    "met": "l.state = 'met'",
    "breached": "l.state = 'breached'",
}
_COLUMN_FILTERS = {"queue": "queue", "team": "team_id", "rep": "rep_id",
                   "temperature": "temperature", "source": "provider",
                   "utm_source": "utm_source"}


class BadCursorError(ValueError):
    pass


def encode_cursor(at: datetime, lead_id: str) -> str:
    raw = orjson.dumps([at.isoformat(), lead_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, lead_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed, str(uuid.UUID(lead_id))
    except (ValueError, TypeError, AttributeError, binascii.Error, orjson.JSONDecodeError):
        raise BadCursorError("not a cursor this endpoint returned") from None


@dataclass
class LeadFilter:
    status: Status | None = None
    queue: str | None = None
    team: str | None = None
    rep: str | None = None
    temperature: str | None = None
    source: str | None = None
    utm_source: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def status_of(row: Any, now: datetime) -> str:
    if row.state in ("queued", "nurture", "met"):
        return str(row.state)
    if row.touched_at is None and row.due_at is not None and row.due_at <= now:
        return "overdue"
    return str(row.state)


async def list_leads(conn: AsyncConnection, f: LeadFilter, limit: int, cursor: str | None,
                     now: datetime) -> dict[str, Any]:
    where: list[str] = []
    params: dict[str, Any] = {"now": now, "n": min(limit, MAX_LIMIT) + 1}
    if f.status is not None:
        where.append(_STATUS_SQL[f.status])
    for name, column in _COLUMN_FILTERS.items():
        value = getattr(f, name)
        if value is not None:
            where.append(f"l.{column} = :{name}")
            params[name] = value
    if f.since is not None:
        where.append("l.assigned_at >= :since")
        params["since"] = f.since
    if f.until is not None:
        where.append("l.assigned_at < :until")
        params["until"] = f.until
    if cursor is not None:
        params["c_at"], params["c_id"] = decode_cursor(cursor)
        where.append("(l.assigned_at, l.lead_id) < (:c_at, CAST(:c_id AS uuid))")
    rows = (await conn.execute(text(f"""
        SELECT l.lead_id, l.attempt, l.state, l.kind, l.rep_id, l.team_id, l.queue, l.track,
               l.temperature, l.points, l.provider, l.utm_source, l.received_at,
               l.assigned_at, l.due_at, l.touched_at,
               a.event -> 'data' -> 'contact' AS contact,
               a.event -> 'data' -> 'company' ->> 'name' AS company
        FROM route.leads l
        JOIN route.assignments a ON a.lead_id = l.lead_id AND a.attempt = l.attempt
        WHERE {" AND ".join(where) or "true"}
        ORDER BY l.assigned_at DESC, l.lead_id DESC
        LIMIT :n"""), params)).all()
    page = rows[:params["n"] - 1]
    more = len(rows) > len(page)
    return {
        "leads": [_view(r, now) for r in page],
        "limit": params["n"] - 1,
        "next_cursor": encode_cursor(page[-1].assigned_at, str(page[-1].lead_id))
        if more else None,
    }


def _view(r: Any, now: datetime) -> dict[str, Any]:
    contact = r.contact or {}
    name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    return {
        "lead_id": str(r.lead_id),
        "status": status_of(r, now),
        "assignment": {k: v for k, v in (("kind", r.kind), ("rep_id", r.rep_id),
                                         ("team_id", r.team_id), ("queue", r.queue),
                                         ("track", r.track), ("attempt", r.attempt))
                       if v is not None},
        "since": r.assigned_at.isoformat(),
        "sla_due_at": r.due_at.isoformat() if r.due_at else None,
        "touched_at": r.touched_at.isoformat() if r.touched_at else None,
        "temperature": r.temperature, "points": r.points,
        "source": {"provider": r.provider, "utm_source": r.utm_source},
        "received_at": r.received_at.isoformat(),
        "name": name or None, "email": contact.get("email"), "company": r.company,
        "journey": f"/v1/leads/{r.lead_id}",
    }


async def queues_view(conn: AsyncConnection, org: OrgFile, now: datetime
                      ) -> list[dict[str, Any]]:
    """Every queue the org file knows and any other with leads waiting: depth, the age of
    its oldest lead, its hottest lead, who works it and whether it is dealt."""
    stats = await store.queue_stats(conn)
    names = list(dict.fromkeys([*org.known_queues(), *stats]))
    out = []
    for name in names:
        s = stats.get(name)
        entry = org.queue(name)
        owners = [t.id for t in org.teams if t.queue == name]
        if entry is not None:
            worked_by: dict[str, Any] = entry.worked_by.model_dump(exclude_none=True)
        elif owners:
            worked_by = {"team": owners[0]} if len(owners) == 1 else {"teams": owners}
        else:
            worked_by = {}
        dealt = bool(worked_by.get("team") or worked_by.get("teams"))
        out.append({
            "queue": name,
            "depth": s.depth if s else 0,
            "oldest_age_s": round((now - s.oldest_at).total_seconds(), 3)
            if s and s.oldest_at else None,
            "oldest_lead_id": s.oldest_lead_id if s else None,
            "hottest": s.hottest if s else None,
            "worked_by": worked_by or None,
            "dealt": dealt,
            "leads": f"/v1/leads?status=queued&queue={quote(name)}",
        })
    return out
