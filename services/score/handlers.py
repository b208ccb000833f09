"""Score's handler: score each enriched lead with the applied org file's model, keep the
score and the person's profile, and emit `lead.scored`; re-score a person's latest lead
when an activity is recorded, and emit a new `lead.scored` when its stage or temperature
changes (route acts on it: a nurtured lead turning hot goes to a rep). What a score is
and when a change is news are `rescoring.py`'s decisions; this module loads, calls them,
writes and emits.

One transaction per batch: one query loads the batch's profiles, one writes them, one the
scores. A person's events share a partition (record key), so an activity recorded before
its lead was scored waits in the profile and counts when the lead arrives.
"""

from __future__ import annotations

import asyncio
import logging

from services.score import store
from services.score.rescoring import after_activity, after_decay, arrived, newer
from shared import db, topics
from shared.activity import countable, merge
from shared.events import Event, Outgoing, derived_id, make_event
from shared.lead import LeadData, check_lead
from shared.service import Runtime

SERVICE = "score"
log = logging.getLogger("leadflow.score")


async def handle_score_batch(batch: list[Event], rt: Runtime) -> list[Outgoing]:
    """`lead.enriched` from enrich and `activity.recorded` on `leads.activity`."""
    now = rt.now()
    relevant = [e for e in batch if e.type in ("lead.enriched", "activity.recorded")]
    if not relevant:
        return []
    keys = sorted({str(e.data.get("person_key")) for e in relevant})
    out: list[Outgoing] = []
    scored: dict[str, LeadData] = {}
    async with db.transaction(rt.engine) as conn:
        org = await rt.org.current(conn)
        profiles = await store.load_profiles(conn, keys)
        for event in relevant:
            if event.type == "lead.enriched":
                profile = profiles.setdefault(event.data["person_key"], store.Profile())
                lead = arrived(check_lead(event.data), profile.activities, org, now)
                if newer(lead, profile.lead):
                    profile.lead = lead
                scored[lead["lead_id"]] = lead
                s = lead.get("score") or {}
                # The id names the outcome: a redelivery scored the same is the same event;
                # one scored differently (activities recorded since) is a new one.
                out.append(Outgoing(topics.SCORED, lead["person_key"], make_event(
                    "lead.scored", SERVICE, lead, event_id=derived_id(
                        lead["lead_id"], "scored", s["model"], str(s["points"]),
                        s["stage"], s["temperature"]), at=now)))
                continue
            activity = event.data.get("activity")
            person = event.data.get("person_key")
            if not countable(activity) or not isinstance(person, str) or not person:
                log.warning("activity %s skipped: needs person_key and an activity with a "
                            "type and an RFC 3339 `at`", event.id)
                continue  # not an activity this service can count
            assert isinstance(activity, dict)
            profile = profiles.setdefault(person, store.Profile())
            profile.activities = merge(profile.activities, [activity])
            if profile.lead is None:
                continue  # the lead is not scored yet: counted when it is
            lead, changed = after_activity(profile.lead, activity, org, now)
            profile.lead = scored[lead["lead_id"]] = lead
            if changed:
                out.append(Outgoing(topics.SCORED, lead["person_key"], make_event(
                    "lead.scored", SERVICE, lead,
                    event_id=derived_id(lead["lead_id"], "rescored", event.id), at=now)))
        await store.save_scores(conn, list(scored.values()), now)
        await store.save_profiles(conn, {k: profiles[k] for k in keys if k in profiles}, now)
    return out


DECAY_PAGE = 100


class DecayPass:
    """The periodic decay pass, a page at a time: re-score, at `now`, every person whose
    latest lead has behaviour points, and emit `lead.scored` for those whose stage or
    temperature changed (a lead that went quiet cools down). Pages are claimed `FOR UPDATE
    SKIP LOCKED`, so replicas share the work; each page's events are acknowledged before
    its commit, so a crash re-runs the page with the same event ids."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.after = ""  # the last person key of the last page done; "" starts a pass
        self.changed = 0  # leads the last page changed

    async def page(self) -> int:
        """One page; returns how many profiles it claimed (a full page: more to do)."""
        rt, now = self.rt, self.rt.now()
        out: list[Outgoing] = []
        async with db.transaction(rt.engine) as conn:
            org = await rt.org.current(conn)
            rows = await store.claim_warm_profiles(conn, self.after, DECAY_PAGE)
            updated: dict[str, store.Profile] = {}
            leads = []
            for person, profile in rows:
                if profile.lead is None:
                    continue  # claimed only with a lead; kept for the type's sake
                before = profile.lead.get("score") or {}
                lead, changed = after_decay(profile.lead, org, now)
                if not changed:
                    continue
                profile.lead = lead
                updated[person] = profile
                leads.append(lead)
                after = lead.get("score") or {}
                out.append(Outgoing(topics.SCORED, person, make_event(
                    "lead.scored", SERVICE, lead, event_id=derived_id(
                        lead["lead_id"], "decayed", str(before.get("temperature")),
                        str(after["temperature"]), str(before.get("stage")),
                        after["stage"], str(before.get("points"))), at=now)))
            if out:
                await asyncio.wait_for(rt.publisher.publish(out), 30)
                await store.save_scores(conn, leads, now)
                await store.save_profiles(conn, updated, now)
        self.changed = len(out)
        if out:
            log.info("decay pass: %d lead(s) changed stage or temperature", len(out))
        # A short page ends the pass; the next one starts from the first person again.
        self.after = rows[-1][0] if len(rows) == DECAY_PAGE else ""
        return len(rows)


async def rescore_cooled(rt: Runtime) -> int:
    """One whole decay pass; returns how many leads changed stage or temperature."""
    decay = DecayPass(rt)
    changed = 0
    while True:
        claimed = await decay.page()
        changed += decay.changed
        if claimed < DECAY_PAGE:
            return changed
