"""`leadflow score explain` and `leadflow score compare`: a score's breakdown, and what a
candidate scoring model would change before anyone applies it. Read-only."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from services.score import store
from services.score.scoring import score_lead
from shared import db
from shared.errors import ConfigError
from shared.events import utcnow
from shared.org import OrgFile, load_org_file
from shared.orgstore import OrgCache
from shared.settings import Settings

PAGE = 1000


async def explain(settings: Settings, lead_id: str) -> dict[str, Any]:
    """The stored score of a lead, and the same lead scored now by the live model (what
    decay has done since)."""
    engine = db.create_engine(settings.database_url, pool_size=1)
    try:
        async with db.connection(engine) as conn:
            stored = await store.load_score(conn, lead_id)
            if stored is None:
                raise ConfigError(f"no score for lead {lead_id}")
            row = (await conn.execute(text(
                "SELECT p.lead FROM score.profiles p JOIN score.scores s "
                "ON s.person_key = p.person_key WHERE s.lead_id = CAST(:i AS uuid)"),
                {"i": lead_id})).first()
        org = await OrgCache(engine).current()
    finally:
        await engine.dispose()
    now_score = None
    if row is not None and row.lead is not None and row.lead.get("lead_id") == lead_id:
        now_score = score_lead(row.lead, org.scoring, utcnow(), org.scoring_version)
    return {"stored": stored, "now": now_score.model_dump(mode="json") if now_score else None}


@dataclass
class Comparison:
    scored: int = 0
    stage: Counter[tuple[str, str]] = field(default_factory=Counter)
    temperature: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)
    live_version: str = ""
    candidate_version: str = ""


def compare_one(lead: dict[str, Any], live: OrgFile, candidate: OrgFile, now: datetime,
                result: Comparison, max_examples: int = 10) -> None:
    before = score_lead(lead, live.scoring, now, live.scoring_version)
    after = score_lead(lead, candidate.scoring, now, candidate.scoring_version)
    result.scored += 1
    changed = False
    if before.stage != after.stage:
        result.stage[(before.stage, after.stage)] += 1
        changed = True
    if before.temperature != after.temperature:
        result.temperature[(before.temperature, after.temperature)] += 1
        changed = True
    if changed and len(result.examples) < max_examples:
        result.examples.append({
            "lead_id": lead.get("lead_id"),
            "before": f"{before.points} pts {before.temperature} {before.stage}",
            "after": f"{after.points} pts {after.temperature} {after.stage}",
            "rules": sorted({r.rule for r in after.reasons} ^ {r.rule for r in before.reasons}),
        })


async def compare(settings: Settings, candidate_path: Path) -> Comparison:
    """Every stored profile's latest lead scored now by the live and the candidate model."""
    candidate = load_org_file(candidate_path)  # OrgError names file, path and problem
    engine = db.create_engine(settings.database_url, pool_size=1)
    now = utcnow()
    try:
        live = await OrgCache(engine).current()
        result = Comparison(live_version=live.scoring_version,
                            candidate_version=candidate.scoring_version)
        after_key = ""
        while True:
            async with db.connection(engine) as conn:
                rows = (await conn.execute(text(
                    "SELECT person_key, lead FROM score.profiles WHERE person_key > :k "
                    "AND lead IS NOT NULL ORDER BY person_key LIMIT :n"),
                    {"k": after_key, "n": PAGE})).all()
            if not rows:
                break
            for row in rows:
                compare_one(row.lead, live, candidate, now, result)
            after_key = rows[-1].person_key
    finally:
        await engine.dispose()
    return result
