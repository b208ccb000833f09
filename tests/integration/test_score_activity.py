"""Score re-scores a person's lead when an activity is recorded, on the real database: a
new `lead.scored` only when stage or temperature changes, an activity recorded before its
lead is counted when the lead arrives, and a redelivered activity changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from services.capture.intake import lead_from_payload
from services.score.handlers import handle_score_batch
from shared.errors import RetryableError
from shared.events import Event, make_event
from shared.settings import Settings
from tests.builders import StartRuntime


def enriched(email: str) -> Event:
    lead = lead_from_payload({"email": email, "job_title": "Analyst"}, provider="api",
                             channel="api", now=datetime.now(UTC))
    return make_event("lead.enriched", "enrich", lead.model_dump(mode="json"))


def recorded(lead: dict[str, Any], kind: str, at: str = "2026-11-24T09:00:00+00:00") -> Event:
    return make_event("activity.recorded", "capture", {
        "lead_id": lead["lead_id"], "person_key": lead["person_key"],
        "activity": {"type": kind, "at": at, "props": {}}}, event_id=str(uuid.uuid4()))


async def test_a_cold_lead_that_asks_for_a_demo_is_re_scored_hot(runtime: StartRuntime) -> None:
    rt = await runtime("score")
    lead_event = enriched(f"quiet-{uuid.uuid4().hex[:6]}@corp.example")
    [first] = await handle_score_batch([lead_event], rt)
    lead = first.event.data
    assert lead["score"]["temperature"] == "cold"
    assert await handle_score_batch([recorded(lead, "email_open")], rt) == []  # no change
    demo = recorded(lead, "demo_request")
    [again] = await handle_score_batch([demo], rt)
    rescored = again.event.data
    assert again.event.type == "lead.scored" and again.event.id != first.event.id
    assert rescored["lead_id"] == lead["lead_id"]
    assert rescored["score"]["temperature"] == "hot"
    assert rescored["score"]["behaviour"] > 0
    assert {a["type"] for a in rescored["activities"]} >= {"email_open", "demo_request"}
    # Redelivered (say, after a crash between commit and publish): counted once, and
    # the change it made is published again as the same event.
    [repeat] = await handle_score_batch([demo], rt)
    assert repeat.event.id == again.event.id
    assert repeat.event.data["score"]["points"] == rescored["score"]["points"]


async def test_an_activity_recorded_before_its_lead_counts_when_the_lead_arrives(
        runtime: StartRuntime) -> None:
    rt = await runtime("score")
    lead_event = enriched(f"early-{uuid.uuid4().hex[:6]}@corp.example")
    early = recorded(lead_event.data, "contact_sales")
    out = await handle_score_batch([early, lead_event], rt)
    assert len(out) == 1
    assert out[0].event.data["score"]["temperature"] == "hot"


async def test_route_assigns_a_nurtured_lead_that_turns_hot_to_a_rep_once(
        runtime: StartRuntime) -> None:
    from services.route.handlers import handle_route_batch
    from tests.integration.test_route import scored

    rt = await runtime("route")
    cold = scored(f"cool-{uuid.uuid4().hex[:6]}@small.example", temperature="cold",
                  employees=20)
    [routed] = await handle_route_batch([cold], rt)
    assert routed.event.data["assignment"]["kind"] == "nurture"
    hot_data = {**cold.data, "score": {**cold.data["score"], "temperature": "hot",
                                       "points": 80}}
    hot = make_event("lead.scored", "score", hot_data, event_id=str(uuid.uuid4()))
    [moved] = await handle_route_batch([hot], rt)
    assert moved.event.type == "lead.reassigned"
    assignment = moved.event.data["assignment"]
    assert assignment["kind"] == "rep" and assignment["attempt"] == 2
    assert assignment["sla"]["temperature"] == "hot"
    [same] = await handle_route_batch([hot], rt)  # redelivered: the same decision
    assert same.event.id == moved.event.id
    assert await handle_route_batch([cold], rt) == []  # a stale cold score changes nothing


async def test_explain_and_compare_read_the_stored_profiles(
        settings: Settings, tmp_path: Any, runtime: StartRuntime) -> None:
    from pathlib import Path

    from services.score.tools import compare, explain

    rt = await runtime("score")
    [out] = await handle_score_batch([enriched(f"cmp-{uuid.uuid4().hex[:6]}@corp.example")],
                                     rt)
    lead = out.event.data
    shown = await explain(settings, lead["lead_id"])
    assert shown["stored"]["points"] == lead["score"]["points"]
    assert shown["now"]["model"] == lead["score"]["model"]
    demo = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "org.yaml"  # noqa: ASYNC240
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(demo.read_text().replace("mql_at: 50", "mql_at: 0"))
    result = await compare(settings, candidate)
    assert result.scored >= 1
    assert result.stage[("lead", "mql")] >= 1
    assert result.candidate_version != result.live_version
    assert result.examples and "lead_id" in result.examples[0]


async def test_the_decay_pass_cools_a_lead_that_went_quiet(
        settings: Settings, runtime: StartRuntime) -> None:
    from datetime import timedelta

    from services.score.handlers import rescore_cooled
    from shared import topics
    from tests.kafka_tools import read_topic, values

    then = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    rt = await runtime("score")
    rt.now = lambda: then
    lead = lead_from_payload({"email": f"quiet-{uuid.uuid4().hex[:6]}@corp.example",
                              "job_title": "CEO"}, provider="api", channel="api",
                             now=then).model_dump(mode="json")
    lead["title"]["seniority"] = "c_level"
    lead["activities"] = [{"type": "pricing_page_visit", "at": then.isoformat(),
                           "props": {}}]
    [first] = await handle_score_batch([make_event("lead.enriched", "enrich", lead)], rt)
    assert first.event.data["score"]["temperature"] == "warm"  # 20 + 15
    rt.now = lambda: then + timedelta(days=60)  # two half-lives: 15 -> 4
    assert await rescore_cooled(rt) >= 1
    await rescore_cooled(rt)  # a second pass finds it settled: no second event
    mine = [v["data"] for v in values(await read_topic(settings, topics.SCORED, expect=1))
            if v["data"]["lead_id"] == lead["lead_id"]]
    assert [d["score"]["temperature"] for d in mine] == ["cold"]
    assert mine[0]["score"]["behaviour"] == 4


async def test_an_activity_score_cannot_read_is_skipped_and_the_lead_still_scores(
        runtime: StartRuntime) -> None:
    rt = await runtime("score")
    lead_event = enriched(f"odd-{uuid.uuid4().hex[:6]}@corp.example")
    odd = [make_event("activity.recorded", "tool", {
        "lead_id": lead_event.data["lead_id"], "person_key": lead_event.data["person_key"],
        "activity": activity}) for activity in (
        {"type": "visit"}, {"type": ["x"], "at": "2026-11-24T09:00:00Z"},
        {"type": "visit", "at": "yesterday"}, "not an activity")]
    out = await handle_score_batch([*odd, lead_event], rt)
    assert [o.event.type for o in out] == ["lead.scored"]
    assert out[0].event.data["activities"] == []


async def warm_lead_gone_quiet(runtimes: list[Any]) -> dict[str, Any]:
    """A lead scored warm on 2026-09-01 by a pricing-page visit, with every runtime's
    clock 60 days on (two half-lives: it has cooled)."""
    from datetime import timedelta

    then = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    for rt in runtimes:
        rt.now = lambda: then
    lead = lead_from_payload({"email": f"quiet-{uuid.uuid4().hex[:6]}@corp.example",
                              "job_title": "CEO"}, provider="api", channel="api",
                             now=then).model_dump(mode="json")
    lead["title"]["seniority"] = "c_level"
    lead["activities"] = [{"type": "pricing_page_visit", "at": then.isoformat(),
                           "props": {}}]
    [first] = await handle_score_batch([make_event("lead.enriched", "enrich", lead)],
                                       runtimes[0])
    assert first.event.data["score"]["temperature"] == "warm"
    for rt in runtimes:
        rt.now = lambda: then + timedelta(days=60)
    return lead


async def decayed_events(settings: Settings, lead_id: str) -> list[dict[str, Any]]:
    from shared import topics
    from tests.kafka_tools import read_topic, values

    return [v for v in values(await read_topic(settings, topics.SCORED, expect=1, settle=0.5))
            if v["data"]["lead_id"] == lead_id]


class DiesAfterPublishing:
    """A publisher whose process is killed after the broker acknowledged a batch holding
    `lead_id` and before the database commit."""

    def __init__(self, real: Any, lead_id: str) -> None:
        self.real, self.lead_id, self.killed = real, lead_id, False

    async def publish(self, out: list[Any]) -> None:
        await self.real.publish(out)
        if not self.killed and any(o.event.data["lead_id"] == self.lead_id for o in out):
            self.killed = True
            raise RetryableError("killed between publish and commit")


async def test_a_decay_page_killed_before_its_commit_runs_again_with_the_same_event(
        settings: Settings, runtime: StartRuntime) -> None:
    from services.score.handlers import DECAY_PAGE, DecayPass

    rt = await runtime("score")
    lead = await warm_lead_gone_quiet([rt])
    real = rt.publisher
    rt.publisher = DiesAfterPublishing(real, lead["lead_id"])
    first = DecayPass(rt)
    with pytest.raises(RetryableError):
        while await first.page() >= DECAY_PAGE:
            pass
    rt.publisher = real
    again = DecayPass(rt)  # the restarted process: its pass starts from the beginning
    while await again.page() >= DECAY_PAGE:
        pass
    events = await decayed_events(settings, lead["lead_id"])
    assert len(events) == 2 and events[0]["id"] == events[1]["id"]  # at least once, one id
    assert {e["data"]["score"]["temperature"] for e in events} == {"cold"}
    async with rt.engine.connect() as conn:
        stored = (await conn.execute(text(
            "SELECT temperature FROM score.scores WHERE lead_id = CAST(:i AS uuid)"),
            {"i": lead["lead_id"]})).scalar()
    assert stored == "cold"


async def test_two_replicas_decaying_at_once_publish_a_cooled_lead_once(
        settings: Settings, runtime: StartRuntime) -> None:
    from services.score.handlers import rescore_cooled

    a, b = await runtime("score"), await runtime("score")
    lead = await warm_lead_gone_quiet([a, b])
    await asyncio.gather(rescore_cooled(a), rescore_cooled(b))
    events = await decayed_events(settings, lead["lead_id"])
    assert [e["data"]["score"]["temperature"] for e in events] == ["cold"]
