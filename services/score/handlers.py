"""Score's handler: score each enriched lead with the applied org file's model, keep the
score and the person's profile, and emit `lead.scored`; re-score a person's latest lead
when an activity is recorded, and emit a new `lead.scored` when its stage or temperature
changes (route acts on it: a nurtured lead turning hot goes to a rep).

One transaction per batch: one query loads the batch's profiles, one writes them, one the
scores. A person's events share a partition (record key), so an activity recorded before
its lead was scored waits in the profile and counts when the lead arrives.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from services.score import store
from services.score.scoring import score_lead
from shared import db, topics
from shared.events import Event, Outgoing, derived_id, make_event
from shared.lead import check_lead
from shared.org import OrgFile
from shared.service import Runtime

SERVICE = "score"
log = logging.getLogger("leadflow.score")
MAX_ACTIVITIES = 200  # per person: what a score needs, and events stay well under 1 MB


def _instant(activity: dict[str, Any]) -> datetime | None:
    """The activity's `at` in UTC (a time without an offset read as UTC), or None."""
    at = activity.get("at")
    if not isinstance(at, str):
        return None
    try:
        parsed = datetime.fromisoformat(at.strip().replace("z", "Z"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _countable(activity: Any) -> bool:
    """An activity score can count: a text type and a readable time."""
    return (isinstance(activity, dict) and isinstance(activity.get("type"), str)
            and bool(activity["type"]) and _instant(activity) is not None
            and isinstance(activity.get("props", {}), dict))


def _activity_key(activity: dict[str, Any]) -> tuple[str, str]:
    """One instant is one activity of a type, whatever offset it was written in."""
    instant = _instant(activity)
    return (str(activity.get("type")),
            instant.isoformat() if instant is not None else str(activity.get("at")))


def _activity_order(activity: dict[str, Any]) -> tuple[int, Any]:
    instant = _instant(activity)
    return (0, instant) if instant is not None else (1, str(activity.get("at")))


def merge_activities(known: list[dict[str, Any]], new: list[dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """Known activities plus new ones, once per type and instant, in time order (UTC);
    activities whose time cannot be read come last."""
    seen = {_activity_key(a) for a in known}
    merged = [a for a in known if isinstance(a, dict)]
    for activity in new:
        if isinstance(activity, dict) and _activity_key(activity) not in seen:
            merged.append(activity)
            seen.add(_activity_key(activity))
    merged.sort(key=_activity_order)
    return merged[-MAX_ACTIVITIES:]


def _apply_score(lead: dict[str, Any], org: OrgFile, now: Any) -> None:
    score = score_lead(lead, org.scoring, now, org.scoring_version)
    lead["score"] = {"points": score.points, "fit": score.fit, "behaviour": score.behaviour,
                     "temperature": score.temperature, "stage": score.stage,
                     "model": score.model,
                     "reasons": [{"rule": r.rule, "points": r.points, "kind": r.kind}
                                 for r in score.reasons]}
    lead.setdefault("timings", {})["scored_at"] = now.isoformat()


async def handle_score_batch(batch: list[Event], rt: Runtime) -> list[Outgoing]:
    """`lead.enriched` from enrich and `activity.recorded` on `leads.activity`."""
    now = rt.now()
    relevant = [e for e in batch if e.type in ("lead.enriched", "activity.recorded")]
    if not relevant:
        return []
    keys = sorted({str(e.data.get("person_key")) for e in relevant})
    out: list[Outgoing] = []
    scored: dict[str, dict[str, Any]] = {}
    async with db.transaction(rt.engine) as conn:
        org = await rt.org.current(conn)
        profiles = await store.load_profiles(conn, keys)
        for event in relevant:
            if event.type == "lead.enriched":
                lead = check_lead(event.data)
                profile = profiles.setdefault(lead["person_key"],
                                              {"lead": None, "activities": []})
                lead["activities"] = merge_activities(lead.get("activities") or [],
                                                      profile["activities"])
                _apply_score(lead, org, now)
                if _newer(lead, profile["lead"]):
                    profile["lead"] = lead  # a replayed older lead leaves the latest alone
                scored[lead["lead_id"]] = lead
                s = lead["score"]
                # The id names the outcome: a redelivery scored the same is the same event;
                # one scored differently (activities recorded since) is a new one.
                out.append(Outgoing(topics.SCORED, lead["person_key"], make_event(
                    "lead.scored", SERVICE, lead, event_id=derived_id(
                        lead["lead_id"], "scored", s["model"], str(s["points"]),
                        s["stage"], s["temperature"]), at=now)))
                continue
            activity = event.data.get("activity")
            person = event.data.get("person_key")
            if not _countable(activity) or not isinstance(person, str) or not person:
                log.warning("activity %s skipped: needs person_key and an activity with a "
                            "type and an RFC 3339 `at`", event.id)
                continue  # not an activity this service can count
            profile = profiles.setdefault(person, {"lead": None, "activities": []})
            profile["activities"] = merge_activities(profile["activities"], [activity])
            if profile["lead"] is None:
                continue  # the lead is not scored yet: counted when it is
            lead = dict(profile["lead"])
            before = lead.get("score") or {}
            key = _activity_key(activity)
            if any(_activity_key(a) == key for a in lead.get("activities") or []):
                # Counted already (a redelivery, perhaps after a crash between commit and
                # publish): the change it made is what it made without it.
                without = {**lead, "activities": [a for a in lead["activities"]
                                                  if _activity_key(a) != key]}
                _apply_score(without, org, now)
                before = without["score"]
            lead["activities"] = merge_activities(lead.get("activities") or [], [activity])
            _apply_score(lead, org, now)
            profile["lead"] = lead
            scored[lead["lead_id"]] = lead
            after = lead["score"]
            if (before.get("stage"), before.get("temperature")) != (after["stage"],
                                                                    after["temperature"]):
                out.append(Outgoing(topics.SCORED, lead["person_key"], make_event(
                    "lead.scored", SERVICE, lead,
                    event_id=derived_id(lead["lead_id"], "rescored", event.id), at=now)))
        await store.save_scores(conn, list(scored.values()), now)
        await store.save_profiles(conn, {k: profiles[k] for k in keys if k in profiles}, now)
    return out


def _newer(lead: dict[str, Any], stored: dict[str, Any] | None) -> bool:
    if stored is None or stored.get("lead_id") == lead.get("lead_id"):
        return True
    return str(lead.get("received_at")) >= str(stored.get("received_at"))


async def handle_lead_enriched(batch: list[Event], rt: Runtime) -> list[Outgoing]:
    """Kept for callers that only have enriched leads (tests, tools)."""
    return await handle_score_batch(batch, rt)


DECAY_PAGE = 100


async def rescore_cooled(rt: Runtime) -> int:
    """The periodic decay pass: re-score, at `now`, every person whose latest lead has
    behaviour points, and emit `lead.scored` for those whose stage or temperature changed
    (a lead that went quiet cools down). Pages are claimed `FOR UPDATE SKIP LOCKED`, so
    replicas share the work; each page's events are acknowledged before its commit, so a
    crash re-runs the page with the same event ids. Returns how many changed."""
    changed_total = 0
    after = ""
    while True:
        now = rt.now()
        out: list[Outgoing] = []
        async with db.transaction(rt.engine) as conn:
            org = await rt.org.current(conn)
            rows = await store.claim_warm_profiles(conn, after, DECAY_PAGE)
            if not rows:
                return changed_total
            after = rows[-1][0]
            updated: dict[str, dict[str, Any]] = {}
            leads = []
            for person, profile in rows:
                lead = dict(profile["lead"])
                before = lead.get("score") or {}
                _apply_score(lead, org, now)
                after_score = lead["score"]
                if (before.get("stage"), before.get("temperature")) == (
                        after_score["stage"], after_score["temperature"]):
                    continue
                profile["lead"] = lead
                updated[person] = profile
                leads.append(lead)
                out.append(Outgoing(topics.SCORED, person, make_event(
                    "lead.scored", SERVICE, lead, event_id=derived_id(
                        lead["lead_id"], "decayed", str(before.get("temperature")),
                        str(after_score["temperature"]), str(before.get("stage")),
                        after_score["stage"], str(before.get("points"))), at=now)))
            if out:
                await asyncio.wait_for(rt.publisher.publish(out), 30)
                await store.save_scores(conn, leads, now)
                await store.save_profiles(conn, updated, now)
                changed_total += len(out)
