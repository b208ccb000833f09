"""Route on the real broker and database: two replicas, one assignment per lead however
often the event comes, one breach per timer, a touch that stops the clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import text

from services.capture.intake import lead_from_payload
from services.route.handlers import handle_route_batch
from services.route.main import build as build_route
from services.route.timers import fire_due_timers
from shared import topics
from shared.events import Event, Outgoing, make_event
from shared.loop import ConsumeLoop
from shared.service import Runtime, make_app
from shared.settings import Settings
from tests.builders import StartRuntime
from tests.kafka_tools import produce_events, read_topic, values


def scored(email: str, temperature: str = "hot", employees: int = 500) -> Event:
    lead = lead_from_payload({"email": email, "company": {"name": "Big Co",
                                                         "employees": employees}},
                             provider="api", channel="api", now=datetime.now(UTC))
    data: dict[str, Any] = lead.model_dump(mode="json")
    data["score"] = {"points": 80 if temperature == "hot" else 10, "temperature": temperature,
                     "stage": "mql", "reasons": [], "model": "test"}
    return make_event("lead.scored", "score", data)


def route_loop(rt: Runtime) -> ConsumeLoop:
    async def handler(batch: list[Event]) -> list[Outgoing]:
        return await handle_route_batch(batch, rt)

    return ConsumeLoop(service="route", topic_names=(topics.SCORED, topics.ACTIVITY),
                       handler=handler, settings=rt.settings, producer=rt.producer)


async def assignments(rt: Runtime, lead_ids: list[str]) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT lead_id, attempt, kind, rep_id, reason, strategy FROM route.assignments "
            "WHERE lead_id = ANY(CAST(:i AS uuid[])) ORDER BY lead_id, attempt"),
            {"i": lead_ids})).all())


async def test_two_route_replicas_assign_each_lead_once_however_often_it_is_delivered(
    settings: Settings, runtime: StartRuntime,
) -> None:
    a, b = await runtime("route"), await runtime("route")
    events = [scored(f"replica{i}@big-co.example") for i in range(40)]
    ids = [e.data["lead_id"] for e in events]
    await produce_events(settings, topics.SCORED, events)
    await produce_events(settings, topics.SCORED, events[:20])  # redelivered upstream
    loops = [route_loop(a), route_loop(b)]
    tasks = [asyncio.create_task(x.run()) for x in loops]
    try:
        routed = await read_topic(settings, topics.ROUTED, expect=40, timeout=60, settle=2)
    finally:
        for x in loops:
            x.stop()
        await asyncio.gather(*tasks)
    rows = await assignments(a, ids)
    assert len(rows) == 40
    assert {str(r.lead_id) for r in rows} == set(ids)
    assert all(r.kind == "rep" and r.attempt == 1 for r in rows)
    # Each lead's lead.routed, however often it was published, is one event.
    ids_by_lead: dict[str, set[str]] = {}
    for event in values(routed):
        ids_by_lead.setdefault(event["data"]["lead_id"], set()).add(event["id"])
    assert set(ids_by_lead) == set(ids)
    assert all(len(v) == 1 for v in ids_by_lead.values())
    # Records land where Kafka's default partitioner puts their key (the loop hands the
    # producer whole per-partition batches, partitioned by its own murmur2).
    partitioner = DefaultPartitioner()
    everything = list(range(settings.topic_partitions))
    assert all(partitioner(r.key, everything, everything) == r.partition for r in routed)
    # Round robin across replicas stays fair: the three enterprise reps share the leads.
    per_rep: dict[str, int] = {}
    for r in rows:
        per_rep[r.rep_id] = per_rep.get(r.rep_id, 0) + 1
    assert max(per_rep.values()) - min(per_rep.values()) <= 1, per_rep


async def test_each_due_timer_breaches_once_across_replicas_and_reassigns(
    settings: Settings, runtime: StartRuntime,
) -> None:
    a, b = await runtime("route"), await runtime("route")
    events = [scored(f"breach{i}@big-co.example") for i in range(6)]
    ids = [e.data["lead_id"] for e in events]
    await handle_route_batch(events, a)
    later = datetime.now(UTC) + timedelta(minutes=6)  # hot SLA is 5m, clock always
    fired = await asyncio.gather(fire_due_timers(a, later), fire_due_timers(b, later))
    rows = await assignments(a, ids)
    per_lead: dict[str, list[Any]] = {}
    for r in rows:
        per_lead.setdefault(str(r.lead_id), []).append(r)
    assert set(per_lead) == set(ids)
    assert all(len(v) == 2 for v in per_lead.values()), per_lead
    assert all(v[0].rep_id != v[1].rep_id and v[1].attempt == 2 for v in per_lead.values())
    assert sum(fired) >= 6
    breaches = [e for e in values(await read_topic(settings, topics.SLA, expect=6,
                                                   settle=1))
                if e["type"] == "io.leadflow.sla.breached" and e["data"]["lead_id"] in ids]
    assert sorted(e["data"]["lead_id"] for e in breaches) == sorted(ids)
    # Only this test's leads: timers other tests left behind may fall due too.
    reassigned = [e for e in values(await read_topic(settings, topics.ROUTED, expect=6))
                  if e["type"] == "io.leadflow.lead.reassigned"
                  and e["data"]["lead_id"] in ids]
    assert {e["data"]["assignment"]["attempt"] for e in reassigned} == {2}
    # Nothing more is due until the second clock runs out.
    assert await fire_due_timers(a, later) == 0


async def test_a_touch_before_the_deadline_stops_the_clock_and_emits_sla_met(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    app = make_app("route", rt, build_route(rt))
    event = scored("touched@big-co.example")
    lead_id = event.data["lead_id"]
    await handle_route_batch([event], rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://route") as client:
        refused = await client.post(f"/v1/leads/{lead_id}/touch", json={})
        assert refused.status_code == 401
        headers = {"Authorization": f"Bearer {settings.admin_key}"}
        touched = await client.post(f"/v1/leads/{lead_id}/touch",
                                    json={"rep_id": "ana", "channel": "call"},
                                    headers=headers)
        assert touched.status_code == 200, touched.text
        assert touched.json()["status"] == "met"
        journey = (await client.get(f"/v1/leads/{lead_id}", headers=headers)).json()
        unknown = await client.get(f"/v1/leads/{'0' * 8}-0000-0000-0000-{'0' * 12}",
                                   headers=headers)
        bad = await client.get("/v1/leads/not-a-uuid", headers=headers)
    steps = [s["step"] for s in journey["steps"]]
    assert steps[0] == "received" and "routed" in steps and "sla.met" in steps
    assert all(s["after_s"] is not None for s in journey["steps"])
    assert journey["sla"][0]["state"] == "met"
    assert journey["assignments"][0]["decision"]["rules"]
    assert unknown.status_code == 404 and bad.status_code == 422
    # The timer no longer fires: an hour past its deadline, nothing breaches for this lead.
    await fire_due_timers(rt, datetime.now(UTC) + timedelta(hours=1))
    async with rt.engine.connect() as conn:
        states = (await conn.execute(text(
            "SELECT state FROM route.sla_timers WHERE lead_id = CAST(:i AS uuid)"),
            {"i": lead_id})).scalars().all()
    assert states == ["met"]
    sla = values(await read_topic(settings, topics.SLA, expect=1, settle=0.5))
    assert [e["type"] for e in sla if e["data"]["lead_id"] == lead_id] == ["io.leadflow.sla.met"]


async def test_cold_leads_go_to_nurture_without_a_clock(runtime: StartRuntime) -> None:
    rt = await runtime("route")
    event = scored("cold@small.example", temperature="cold", employees=5)
    out = await handle_route_batch([event], rt)
    assignment = out[0].event.data["assignment"]
    assert assignment["kind"] == "nurture" and assignment.get("sla") is None
    async with rt.engine.connect() as conn:
        clocks = (await conn.execute(text(
            "SELECT count(*) FROM route.sla_timers WHERE lead_id = CAST(:i AS uuid)"),
            {"i": event.data["lead_id"]})).scalar()
    assert clocks == 0


async def test_the_score_api_explains_a_score_to_an_admin_only(
        settings: Settings, runtime: StartRuntime) -> None:
    from services.score.handlers import handle_score_batch
    from services.score.main import build as build_score

    rt = await runtime("score")
    lead = scored("explained@big-co.example").data
    lead.pop("score")
    event = make_event("lead.enriched", "enrich", lead)
    out = await handle_score_batch([event], rt)
    app = make_app("score", rt, build_score(rt))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://score") as client:
        path = f"/v1/leads/{lead['lead_id']}/score"
        refused = await client.get(path)
        shown = await client.get(path, headers={
            "Authorization": f"Bearer {settings.admin_key}"})
    assert refused.status_code == 401
    assert shown.status_code == 200
    body = shown.json()
    assert body["points"] == out[0].event.data["score"]["points"] == 15
    assert body["reasons"] == [{"rule": "company-200-plus", "points": 15, "kind": "fit"}]
    assert (body["fit"], body["behaviour"]) == (15, 0)
    assert body["model"] == out[0].event.data["score"]["model"]
