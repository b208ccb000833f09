"""When score (re)computes a lead's score, and when the change is news for route.

A lead is scored when it arrives (with the activities its person already has), again when
an activity is recorded for its person, and again by the decay pass as behaviour points
age. Only a change of stage or temperature is published again: that is what route acts on
(a nurtured lead turning hot goes to a rep). Pure: the org file and `now` are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.score.scoring import score_lead
from shared import activity as activities
from shared.lead import LeadData
from shared.org import OrgFile


def scored(lead: LeadData, org: OrgFile, now: datetime) -> LeadData:
    """A copy of `lead` with its score by the org file's model at `now`."""
    score = score_lead(lead, org.scoring, now, org.scoring_version)
    scored_lead: LeadData = {**lead, "score": {
        "points": score.points, "fit": score.fit, "behaviour": score.behaviour,
        "temperature": score.temperature, "stage": score.stage, "model": score.model,
        "reasons": [{"rule": r.rule, "points": r.points, "kind": r.kind}
                    for r in score.reasons]},
        "timings": {**(lead.get("timings") or {}), "scored_at": now.isoformat()}}
    return scored_lead


def arrived(lead: LeadData, known: list[Any], org: OrgFile,
            now: datetime) -> LeadData:
    """A new lead scored with its own activities and those its person already has (an
    activity recorded before the lead was scored counts now)."""
    merged = activities.merge(lead.get("activities") or [], known)
    return scored({**lead, "activities": merged}, org, now)


def band_changed(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    """Whether two scores differ in stage or temperature, the change route acts on."""
    old, new = before or {}, after or {}
    return ((old.get("stage"), old.get("temperature"))
            != (new.get("stage"), new.get("temperature")))


def after_activity(lead: LeadData, activity: dict[str, Any], org: OrgFile,
                   now: datetime) -> tuple[LeadData, bool]:
    """The person's latest lead re-scored with `activity`, and whether that changed its
    stage or temperature. An activity the lead counted already (a redelivery, perhaps
    after a crash between commit and publish) is judged by the change it made: the score
    without it against the score with it, so the same change is published again."""
    current = lead.get("activities") or []
    if activities.includes(current, activity):
        before = scored({**lead, "activities": activities.without(current, activity)},
                        org, now)["score"]
    else:
        before = lead.get("score") or {}
    after = scored({**lead, "activities": activities.merge(current, [activity])}, org, now)
    return after, band_changed(before, after["score"])


def after_decay(lead: LeadData, org: OrgFile, now: datetime
                ) -> tuple[LeadData, bool]:
    """The lead re-scored at `now` (behaviour points age), and whether its stage or
    temperature changed."""
    after = scored(lead, org, now)
    return after, band_changed(lead.get("score") or {}, after["score"])


def newer(lead: LeadData, stored: LeadData | None) -> bool:
    """Whether `lead` is the person's latest (a replayed older lead leaves the latest
    alone)."""
    if stored is None or stored.get("lead_id") == lead.get("lead_id"):
        return True
    return str(lead.get("received_at")) >= str(stored.get("received_at"))
