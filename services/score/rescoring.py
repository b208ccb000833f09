"""When score (re)computes a lead's score, and when the change is news for route.

A lead is scored when it arrives (with the activities its person already has), again when
an activity is recorded for its person, and again by the decay pass as behaviour points
age. Only a change of stage or temperature is published again: that is what route acts on
(a nurtured lead turning hot goes to a rep). Pure: the org file and `now` are passed in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.score.scoring import score_lead
from shared import activity as activities
from shared.org import OrgFile


def scored(lead: dict[str, Any], org: OrgFile, now: datetime) -> dict[str, Any]:
    """A copy of `lead` with its score by the org file's model at `now`."""
    score = score_lead(lead, org.scoring, now, org.scoring_version)
    return {**lead, "score": {
        "points": score.points, "fit": score.fit, "behaviour": score.behaviour,
        "temperature": score.temperature, "stage": score.stage, "model": score.model,
        "reasons": [{"rule": r.rule, "points": r.points, "kind": r.kind}
                    for r in score.reasons]},
        "timings": {**(lead.get("timings") or {}), "scored_at": now.isoformat()}}


def arrived(lead: dict[str, Any], known: list[Any], org: OrgFile,
            now: datetime) -> dict[str, Any]:
    """A new lead scored with its own activities and those its person already has (an
    activity recorded before the lead was scored counts now)."""
    merged = activities.merge(lead.get("activities") or [], known)
    return scored({**lead, "activities": merged}, org, now)


def band_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether two scores differ in stage or temperature, the change route acts on."""
    return ((before.get("stage"), before.get("temperature"))
            != (after.get("stage"), after.get("temperature")))


def after_activity(lead: dict[str, Any], activity: dict[str, Any], org: OrgFile,
                   now: datetime) -> tuple[dict[str, Any], bool]:
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


def after_decay(lead: dict[str, Any], org: OrgFile, now: datetime
                ) -> tuple[dict[str, Any], bool]:
    """The lead re-scored at `now` (behaviour points age), and whether its stage or
    temperature changed."""
    after = scored(lead, org, now)
    return after, band_changed(lead.get("score") or {}, after["score"])


def newer(lead: dict[str, Any], stored: dict[str, Any] | None) -> bool:
    """Whether `lead` is the person's latest (a replayed older lead leaves the latest
    alone)."""
    if stored is None or stored.get("lead_id") == lead.get("lead_id"):
        return True
    return str(lead.get("received_at")) >= str(stored.get("received_at"))
