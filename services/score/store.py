"""Score's tables: each lead's latest score, with its reasons and model version, and each
person's profile (latest scored lead and recorded activities)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.activity import Activity
from shared.lead import LeadData


@dataclass
class Profile:
    """A person as score keeps them: the latest scored lead (None before the first) and
    every activity recorded after capture."""

    lead: LeadData | None = None
    activities: list[Activity] = field(default_factory=list)


def _profile(row: Any) -> Profile:
    return Profile(cast(LeadData | None, row.lead), list(row.activities or []))


async def save_scores(conn: AsyncConnection, rows: list[LeadData], at: datetime) -> None:
    """Upsert each scored lead's score (the last of a lead's rows wins)."""
    unique = [r for r in {r["lead_id"]: r for r in rows}.values() if r.get("score")]
    if not unique:
        return
    scores = [cast(dict[str, Any], r.get("score")) for r in unique]
    await conn.execute(text("""
        INSERT INTO score.scores (lead_id, person_key, points, temperature, stage, reasons,
                                  model, scored_at)
        SELECT CAST(i AS uuid), k, p, t, s, CAST(r AS json), m, :at
        FROM unnest(CAST(:i AS text[]), CAST(:k AS text[]), CAST(:p AS int[]),
                    CAST(:t AS text[]), CAST(:s AS text[]), CAST(:r AS text[]),
                    CAST(:m AS text[])) AS x(i, k, p, t, s, r, m)
        ON CONFLICT (lead_id) DO UPDATE SET points = EXCLUDED.points,
            temperature = EXCLUDED.temperature, stage = EXCLUDED.stage,
            reasons = EXCLUDED.reasons, model = EXCLUDED.model, scored_at = EXCLUDED.scored_at
        """), {
        "at": at,
        "i": [r["lead_id"] for r in unique],
        "k": [r["person_key"] for r in unique],
        "p": [s["points"] for s in scores],
        "t": [s["temperature"] for s in scores],
        "s": [s["stage"] for s in scores],
        "r": [orjson.dumps(s["reasons"]).decode() for s in scores],
        "m": [s["model"] for s in scores],
    })


async def load_score(conn: AsyncConnection, lead_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(text(
        "SELECT points, temperature, stage, reasons, model, scored_at FROM score.scores "
        "WHERE lead_id = CAST(:i AS uuid)"), {"i": lead_id})).first()
    if row is None:
        return None
    reasons = row.reasons or []
    return {"lead_id": lead_id, "points": row.points,
            "fit": sum(r["points"] for r in reasons if r.get("kind") == "fit"),
            "behaviour": sum(r["points"] for r in reasons if r.get("kind") == "behaviour"),
            "temperature": row.temperature, "stage": row.stage, "reasons": reasons,
            "model": row.model, "scored_at": row.scored_at.isoformat()}


async def load_profiles(conn: AsyncConnection, keys: list[str]) -> dict[str, Profile]:
    """Each person's profile: `lead` (the latest scored lead, or None before the first)
    and `activities` (every activity recorded after capture), locked for the batch's
    transaction so the decay pass and this handler never overwrite each other."""
    if not keys:
        return {}
    rows = (await conn.execute(text(
        "SELECT person_key, lead, activities FROM score.profiles "
        "WHERE person_key = ANY(CAST(:k AS text[])) ORDER BY person_key FOR UPDATE"),
        {"k": keys})).all()
    return {r.person_key: _profile(r) for r in rows}


async def save_profiles(conn: AsyncConnection, profiles: dict[str, Profile],
                        at: datetime) -> None:
    if not profiles:
        return
    items = list(profiles.items())
    await conn.execute(text("""
        INSERT INTO score.profiles (person_key, lead, activities, updated_at)
        SELECT k, CAST(l AS json), CAST(a AS json), :at
        FROM unnest(CAST(:k AS text[]), CAST(:l AS text[]), CAST(:a AS text[])) AS x(k, l, a)
        ON CONFLICT (person_key) DO UPDATE SET lead = EXCLUDED.lead,
            activities = EXCLUDED.activities, updated_at = EXCLUDED.updated_at"""), {
        "at": at, "k": [k for k, _ in items],
        "l": [orjson.dumps(p.lead).decode() if p.lead is not None else None
              for _, p in items],
        "a": [orjson.dumps(p.activities).decode() for _, p in items]})


async def claim_warm_profiles(conn: AsyncConnection, after: str, limit: int
                              ) -> list[tuple[str, Profile]]:
    """Profiles after `after` whose latest lead has behaviour points, locked for this
    transaction (others skip them)."""
    rows = (await conn.execute(text("""
        SELECT person_key, lead, activities FROM score.profiles
        WHERE person_key > :after AND lead IS NOT NULL
          AND coalesce((lead->'score'->>'behaviour')::int, 0) > 0
        ORDER BY person_key LIMIT :n FOR UPDATE SKIP LOCKED"""),
        {"after": after, "n": limit})).all()
    return [(r.person_key, _profile(r)) for r in rows]
