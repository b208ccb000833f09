"""Queues that drain themselves, on the real broker and database with an injected clock: a
lead queued at night is dealt at the opening with its clock starting then, a rep back
from out of office or with capacity again drains their team's queue fairly, two route
replicas deal each queued lead once, a claim is won once, a manager's move is recorded,
and the lead list pages through its filters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import text

from services.route.dealing import deal_queues
from services.route.handlers import handle_route_batch
from services.route.main import build as build_route
from shared import topics
from shared.errors import RetryableError
from shared.events import Event
from shared.orgstore import apply_org
from shared.service import Runtime, make_app
from shared.settings import Settings
from tests.builders import DEFAULT_SCORING, StartRuntime, demo_org_open_all_hours, rep, rule, team
from tests.integration.test_route import assignments, scored
from tests.integration.test_score_activity import DiesAfterPublishing
from tests.kafka_tools import read_topic, values

NY = ZoneInfo("America/New_York")
TUESDAY_23 = datetime(2026, 12, 1, 23, 0, tzinfo=NY)  # a Tuesday night in New York
WEDNESDAY_9 = datetime(2026, 12, 2, 9, 0, tzinfo=NY)


def uid() -> str:
    return uuid.uuid4().hex[:6]


@asynccontextmanager
async def org_in_force(rt: Runtime, document: dict[str, Any]) -> AsyncIterator[None]:
    path = rt.settings.data_dir / f"org-{uid()}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    await apply_org(rt.engine, path)
    try:
        yield
    finally:
        await apply_org(rt.engine, demo_org_open_all_hours(rt.settings.data_dir))
        # Clocks set in the past by the injected clock must not fall due in later tests.
        async with rt.engine.begin() as conn:
            await conn.execute(text(
                "UPDATE route.sla_timers SET state = 'superseded' "
                "WHERE state = 'open' AND team_id = ANY(CAST(:t AS text[]))"),
                {"t": [t["id"] for t in document["teams"]]})


def night_org(team_id: str, reps: list[Any], **team_fields: Any) -> dict[str, Any]:
    """One New York team open 09:00-18:00 on weekdays; hot leads 5 minutes on the
    `always` clock, warm 4 business hours."""
    fields = {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-18:00"},
              **team_fields}
    return {"scoring": DEFAULT_SCORING, "teams": [team(team_id, *reps, **fields)],
            "routing": {"rules": [rule("everyone", {"team": team_id})]},
            "sla": {"hot": {"within": "5m", "clock": "always"},
                    "warm": {"within": "4h", "clock": "business"}}}


async def route_at(rt: Runtime, events: list[Event], at: datetime) -> None:
    rt.now = lambda: at.astimezone(UTC)
    await rt.publisher.publish(await handle_route_batch(events, rt))


async def deal_all(rt: Runtime, at: datetime) -> int:
    total = 0
    while (n := await deal_queues(rt, at.astimezone(UTC))) > 0:
        total += n
    return total


async def current(rt: Runtime, lead_ids: list[str]) -> dict[str, Any]:
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT l.*, a.decision, t.started_at, t.due_at AS timer_due "
            "FROM route.leads l JOIN route.assignments a "
            "ON a.lead_id = l.lead_id AND a.attempt = l.attempt "
            "LEFT JOIN route.sla_timers t ON t.lead_id = l.lead_id AND t.attempt = l.attempt "
            "WHERE l.lead_id = ANY(CAST(:i AS uuid[]))"), {"i": lead_ids})).all()
    return {str(r.lead_id): r for r in rows}


def admin(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_key}"}


@asynccontextmanager
async def client_for(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app("route", rt, build_route(rt))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://route") as client:
        yield client


async def test_a_hot_lead_queued_at_night_is_dealt_at_the_opening_with_its_clock_from_then(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, a, b = f"night{uid()}", f"a{uid()}", f"b{uid()}"
    async with org_in_force(rt, night_org(t, [a, b])):
        day = scored(f"day{uid()}@big-co.example")
        await route_at(rt, [day], TUESDAY_23 - timedelta(hours=8))  # 15:00: open, to a
        hot = scored(f"hot{uid()}@big-co.example")
        warm = scored(f"warm{uid()}@big-co.example", temperature="warm")
        await route_at(rt, [hot, warm], TUESDAY_23)
        ids = [hot.data["lead_id"], warm.data["lead_id"]]
        queued = await current(rt, ids)
        assert {r.state for r in queued.values()} == {"queued"}
        assert {r.queue for r in queued.values()} == {f"{t}-unassigned"}

        await deal_all(rt, WEDNESDAY_9 - timedelta(minutes=1))
        assert {r.state for r in (await current(rt, ids)).values()} == {"queued"}

        await deal_all(rt, WEDNESDAY_9)
        dealt = await current(rt, ids)
    h, w = dealt[hot.data["lead_id"]], dealt[warm.data["lead_id"]]
    # Oldest first, both queued at 23:00 (ties by lead id): the rotation goes on from a,
    # who had the afternoon's lead.
    first, second = sorted([h, w], key=lambda r: str(r.lead_id))
    assert (first.rep_id, second.rep_id) == (b, a)
    assert h.attempt == w.attempt == 2 and h.state == w.state == "open"
    opening = WEDNESDAY_9.astimezone(UTC)
    assert h.started_at == opening and h.timer_due == opening + timedelta(minutes=5)
    assert w.timer_due == opening + timedelta(hours=4)  # business hours from the opening
    record = h.decision
    assert record["cause"] == "queue_dealt" and record["queue"] == f"{t}-unassigned"
    assert record["waited_s"] == 10 * 3600
    assert record["why_now"]["then"] == "off_hours"
    assert record["why_now"]["summary"] == "the team is open"
    assert record["previous"]["reason"] == "no_eligible_rep"
    routed = [e for e in values(await read_topic(settings, topics.ROUTED, expect=5))
              if e["data"]["lead_id"] == hot.data["lead_id"]]
    assert [e["type"] for e in routed] == ["io.leadflow.lead.routed",
                                           "io.leadflow.lead.reassigned"]
    assert routed[1]["data"]["assignment"]["attempt"] == 2
    assert routed[1]["data"]["assignment"]["reason"] == "dealt_from_queue"
    assert routed[1]["data"]["decision"]["waited_s"] == 10 * 3600


async def test_reps_back_from_out_of_office_drain_their_teams_queue_in_turn(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, reps = f"ooo{uid()}", [f"r{i}{uid()}" for i in range(3)]
    now = WEDNESDAY_9 + timedelta(hours=2)
    async with org_in_force(rt, night_org(t, reps)), client_for(rt) as client:
        for r in reps:
            assert (await client.patch(f"/v1/reps/{r}", json={"available": False},
                                       headers=admin(settings))).status_code == 200
        events = [scored(f"ooo{i}{uid()}@big-co.example") for i in range(6)]
        ids = [e.data["lead_id"] for e in events]
        await route_at(rt, events, now)
        assert await deal_all(rt, now) == 0  # nobody back yet
        for r in reps[:2]:
            await client.patch(f"/v1/reps/{r}", json={"available": True},
                               headers=admin(settings))
        await deal_all(rt, now + timedelta(seconds=1))
        rows = await current(rt, ids)
    taken = [rows[i].rep_id for i in sorted(ids, key=lambda i: (rows[i].assigned_at, i))]
    assert sorted(taken) == sorted([reps[0], reps[1]] * 3)
    assert all(taken[k] != taken[k + 1] for k in range(5)), taken  # in turn, not in runs
    assert {rows[i].decision["why_now"]["summary"] for i in ids} == {"the rep is back"}


async def test_capacity_freed_by_a_touch_deals_the_next_waiting_lead(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, solo = f"cap{uid()}", f"s{uid()}"
    now = WEDNESDAY_9 + timedelta(hours=1)
    async with org_in_force(rt, night_org(t, [rep(solo, capacity=1)])), \
            client_for(rt) as client:
        first, second = scored(f"c1{uid()}@big-co.example"), scored(f"c2{uid()}@big-co.example")
        await route_at(rt, [first], now)
        await route_at(rt, [second], now + timedelta(seconds=1))
        assert (await current(rt, [second.data["lead_id"]]))[second.data["lead_id"]].state \
            == "queued"
        assert await deal_all(rt, now + timedelta(seconds=2)) == 0  # still at capacity
        touched = await client.post(f"/v1/leads/{first.data['lead_id']}/touch",
                                    json={"rep_id": solo}, headers=admin(settings))
        assert touched.json()["status"] == "met"
        assert await deal_all(rt, now + timedelta(seconds=3)) == 1
        row = (await current(rt, [second.data["lead_id"]]))[second.data["lead_id"]]
    assert row.rep_id == solo and row.decision["why_now"]["then"] == "at_capacity"


async def test_hottest_first_deals_hot_before_warm_before_cold_then_points_then_age(
    runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, solo = f"hot{uid()}", f"h{uid()}"
    async with org_in_force(rt, night_org(t, [rep(solo, capacity=1)], queue_order="hottest")):
        cold = scored(f"cold{uid()}@big-co.example", temperature="cold")
        warm = scored(f"warm{uid()}@big-co.example", temperature="warm")
        hot = scored(f"hot{uid()}@big-co.example")
        await route_at(rt, [cold], TUESDAY_23)
        await route_at(rt, [warm], TUESDAY_23 + timedelta(minutes=1))
        await route_at(rt, [hot], TUESDAY_23 + timedelta(minutes=2))
        assert await deal_all(rt, WEDNESDAY_9) == 1  # capacity 1: only the first in order
        rows = await current(rt, [e.data["lead_id"] for e in (cold, warm, hot)])
    assert rows[hot.data["lead_id"]].rep_id == solo
    assert rows[warm.data["lead_id"]].state == rows[cold.data["lead_id"]].state == "queued"


async def test_two_route_replicas_deal_each_of_500_queued_leads_exactly_once(
    settings: Settings, runtime: StartRuntime,
) -> None:
    a, b = await runtime("route"), await runtime("route")
    t, reps = f"pair{uid()}", [f"p{i}{uid()}" for i in range(5)]
    now = WEDNESDAY_9 + timedelta(hours=3)
    async with org_in_force(a, night_org(t, reps)), client_for(a) as client:
        for r in reps:
            await client.patch(f"/v1/reps/{r}", json={"available": False},
                               headers=admin(settings))
        events = [scored(f"pair{i}{uid()}@big-co.example") for i in range(500)]
        ids = [e.data["lead_id"] for e in events]
        await route_at(a, events, now)
        for r in reps:
            await client.patch(f"/v1/reps/{r}", json={"available": True},
                               headers=admin(settings))
        dealt = await asyncio.gather(deal_all(a, now + timedelta(seconds=1)),
                                     deal_all(b, now + timedelta(seconds=1)))
    assert sum(dealt) == 500
    rows = await assignments(a, ids)
    second = [r for r in rows if r.attempt == 2]
    assert len(second) == 500 and len({r.lead_id for r in second}) == 500
    per_rep: dict[str, int] = {}
    for r in second:
        per_rep[r.rep_id] = per_rep.get(r.rep_id, 0) + 1
    assert sorted(per_rep.values()) == [100] * 5, per_rep  # one rotation across replicas
    wanted = set(ids)
    reassigned = [e for e in values(await read_topic(settings, topics.ROUTED, expect=1000,
                                                     timeout=60, settle=1))
                  if e["type"] == "io.leadflow.lead.reassigned"
                  and e["data"]["lead_id"] in wanted]
    assert len(reassigned) == 500 and len({e["data"]["lead_id"] for e in reassigned}) == 500


async def test_two_claims_at_once_one_wins_and_the_other_is_told_who_holds_the_lead(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, a, b, m = f"claim{uid()}", f"a{uid()}", f"b{uid()}", f"m{uid()}"
    document = night_org(t, [a, b], notify={"webhook_url": "http://hooks.example/claims"})
    document["teams"].append(team(f"mgr{uid()}", m))
    document["queues"] = [{"id": f"vip{uid()}", "worked_by": {"reps": [m]}}]
    vip = document["queues"][0]["id"]
    async with org_in_force(rt, document), client_for(rt) as client:
        lead = scored(f"claim{uid()}@big-co.example")
        lead_id = lead.data["lead_id"]
        await route_at(rt, [lead], TUESDAY_23)
        rt.now = lambda: TUESDAY_23.astimezone(UTC) + timedelta(minutes=30)
        first, second = await asyncio.gather(
            client.post(f"/v1/leads/{lead_id}/claim", json={"rep_id": a},
                        headers=admin(settings)),
            client.post(f"/v1/leads/{lead_id}/claim", json={"rep_id": b},
                        headers=admin(settings)))
        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 409], (first.text, second.text)
        won, lost = (first, second) if first.status_code == 200 else (second, first)
        winner = won.json()["assignment"]["rep_id"]
        assert won.json()["status"] == "claimed"
        assert won.json()["assignment"]["sla"]["due_at"] == (
            TUESDAY_23.astimezone(UTC) + timedelta(minutes=35)).isoformat()
        assert f"held by rep {winner!r}" in lost.json()["reason"]
        unknown = await client.post(f"/v1/leads/{lead_id}/claim", json={"rep_id": "nobody"},
                                    headers=admin(settings))
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "rep_id"
        # A manager moves it into a queue only named reps work; others may not claim it.
        moved = await client.post(f"/v1/leads/{lead_id}/assign",
                                  json={"queue": vip, "reason": "key account"},
                                  headers=admin(settings))
        assert moved.status_code == 200, moved.text
        assert moved.json()["assignment"]["queue"] == vip
        refused = await client.post(f"/v1/leads/{lead_id}/claim", json={"rep_id": a},
                                    headers=admin(settings))
        assert refused.status_code == 403 and m in refused.json()["reason"]
        taken = await client.post(f"/v1/leads/{lead_id}/claim", json={"rep_id": m},
                                  headers=admin(settings))
        assert taken.status_code == 200
        journey = (await client.get(f"/v1/leads/{lead_id}", headers=admin(settings))).json()
    async with rt.engine.connect() as conn:
        kinds = (await conn.execute(text(
            "SELECT kind, payload ->> 'text' FROM route.notifications "
            "WHERE lead_id = CAST(:i AS uuid) ORDER BY id"), {"i": lead_id})).all()
    # The claim to a rep of the notifying team told it; the managers' team has no webhook.
    assert [k for k, _ in kinds] == ["assigned"] and winner.title() in kinds[0][1]
    causes = [x["decision"].get("cause") for x in journey["assignments"]]
    assert causes == [None, "claimed", "manual", "claimed"]
    assert journey["assignments"][2]["decision"]["reason"] == "key account"
    states = [x["state"] for x in journey["sla"]]
    assert states == ["superseded", "open"]  # the manual move stopped the first clock


async def test_a_manager_assigns_to_a_rep_or_a_team_with_the_reason_and_a_fresh_clock(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, a, b = f"asg{uid()}", f"a{uid()}", f"b{uid()}"
    now = WEDNESDAY_9 + timedelta(hours=1)
    async with org_in_force(rt, night_org(t, [a, b])), client_for(rt) as client:
        lead = scored(f"asg{uid()}@big-co.example")
        lead_id = lead.data["lead_id"]
        await route_at(rt, [lead], now)
        holder = (await current(rt, [lead_id]))[lead_id].rep_id
        other = b if holder == a else a
        rt.now = lambda: now.astimezone(UTC) + timedelta(minutes=3)
        body = {"rep_id": other, "reason": "speaks German"}
        moved = await client.post(f"/v1/leads/{lead_id}/assign", json=body,
                                  headers=admin(settings))
        assert moved.status_code == 200, moved.text
        again = await client.post(f"/v1/leads/{lead_id}/assign", json=body,
                                  headers=admin(settings))
        assert again.json()["status"] == "unchanged"
        to_team = await client.post(f"/v1/leads/{lead_id}/assign",
                                    json={"team_id": t, "reason": "back to the rotation"},
                                    headers=admin(settings))
        both = await client.post(f"/v1/leads/{lead_id}/assign",
                                 json={"rep_id": a, "queue": "x", "reason": "r"},
                                 headers=admin(settings))
        no_reason = await client.post(f"/v1/leads/{lead_id}/assign", json={"rep_id": a},
                                      headers=admin(settings))
        row = (await current(rt, [lead_id]))[lead_id]
    assert moved.json()["assignment"]["rep_id"] == other
    assert moved.json()["assignment"]["sla"]["due_at"] == (
        now.astimezone(UTC) + timedelta(minutes=8)).isoformat()
    assert to_team.json()["assignment"]["rep_id"] == holder  # the one who does not have it
    assert row.attempt == 3 and row.decision["reason"] == "back to the rotation"
    assert both.status_code == 422 and "exactly one" in both.text
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"


async def test_the_lead_list_filters_and_pages_newest_first_and_names_bad_parameters(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, a = f"list{uid()}", f"a{uid()}"
    start = WEDNESDAY_9 + timedelta(hours=4)
    async with org_in_force(rt, night_org(t, [a])), client_for(rt) as client:
        events = [scored(f"list{i}{uid()}@big-co.example",
                         temperature="hot" if i % 2 else "warm") for i in range(7)]
        for i, e in enumerate(events):
            await route_at(rt, [e], start + timedelta(seconds=i))
        await client.patch(f"/v1/reps/{a}", json={"available": False},
                           headers=admin(settings))
        queued = scored(f"listq{uid()}@big-co.example")
        await route_at(rt, [queued], start + timedelta(seconds=10))
        rt.now = lambda: start.astimezone(UTC) + timedelta(seconds=20)
        pages, cursor = [], None
        while True:
            params = {"team": t, "limit": "3", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/leads", params=params, headers=admin(settings)))
            assert page.status_code == 200, page.text
            pages.append([x["lead_id"] for x in page.json()["leads"]])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        worklist = (await client.get("/v1/leads", params={"rep": a, "status": "open"},
                                     headers=admin(settings))).json()
        waiting = (await client.get("/v1/leads", params={"status": "queued", "team": t},
                                    headers=admin(settings))).json()
        hot = (await client.get("/v1/leads", params={"team": t, "temperature": "hot"},
                                headers=admin(settings))).json()
        later = (await client.get("/v1/leads", params={"team": t, "status": "overdue"},
                                  headers=admin(settings))).json()
        queues = (await client.get("/v1/queues", headers=admin(settings))).json()
        page = (await client.get("/", params={"key": settings.admin_key})).text
        bad = {name: await client.get("/v1/leads", params={name: value},
                                      headers=admin(settings))
               for name, value in (("status", "lost"), ("cursor", "bm9wZQ"),
                                   ("since", "yesterday"), ("limit", "0"))}
        capped = (await client.get("/v1/leads", params={"limit": "100000"},
                                   headers=admin(settings))).json()
        await client.patch(f"/v1/reps/{a}", json={"available": True}, headers=admin(settings))
    newest_first = [queued.data["lead_id"]] + [e.data["lead_id"] for e in reversed(events)]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i for p in pages for i in p] == newest_first
    assert [x["lead_id"] for x in worklist["leads"]] == newest_first[1:]
    first = worklist["leads"][0]
    assert first["status"] == "open" and first["journey"] == f"/v1/leads/{first['lead_id']}"
    assert first["assignment"]["rep_id"] == a and first["sla_due_at"] is not None
    assert [x["lead_id"] for x in waiting["leads"]] == [queued.data["lead_id"]]
    assert {x["temperature"] for x in hot["leads"]} == {"hot"} and len(hot["leads"]) == 4
    assert later["leads"] == []  # nothing is past its deadline 20 seconds on
    mine = next(q for q in queues if q["queue"] == f"{t}-unassigned")
    assert mine["depth"] == 1 and mine["oldest_lead_id"] == queued.data["lead_id"]
    assert mine["oldest_age_s"] == 10.0 and mine["worked_by"] == {"team": t}
    assert mine["hottest"]["lead_id"] == queued.data["lead_id"] and mine["dealt"]
    assert "<h2>Queues</h2>" in page and f"<td>{t}-unassigned</td><td>1</td>" in page
    for name, response in bad.items():
        assert response.status_code == 422, (name, response.text)
        assert response.json()["errors"][0]["field"] == name, (name, response.text)
    assert capped["limit"] == 500


def gauge(name: str, queue: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"queue": queue})


class BrokerDown:
    async def publish(self, _out: list[Any]) -> None:
        raise RetryableError("broker unavailable")


async def test_a_dealt_lead_is_committed_first_and_published_by_the_sweep_after_a_fault(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, a, b = f"kill{uid()}", f"a{uid()}", f"b{uid()}"
    queue = f"{t}-unassigned"
    async with org_in_force(rt, night_org(t, [a, b])):
        died, down = scored(f"died{uid()}@big-co.example"), scored(f"down{uid()}@big-co.example")
        await route_at(rt, [died], TUESDAY_23)
        await deal_queues(rt, (WEDNESDAY_9 - timedelta(hours=1)).astimezone(UTC))
        assert gauge("leadflow_queue_depth", queue) == 1
        assert gauge("leadflow_queue_dealable", queue) == 0  # closed: nobody could take it
        assert gauge("leadflow_queue_dealt_by_team", queue) == 1
        assert gauge("leadflow_queue_oldest_age_seconds", queue) == 9 * 3600
        waited = REGISTRY.get_sample_value("leadflow_queue_wait_seconds_count",
                                           {"queue": queue}) or 0
        real = rt.publisher
        # The process dies after the broker took the event, before the mark is cleared.
        rt.publisher = DiesAfterPublishing(real, died.data["lead_id"])  # type: ignore[assignment]
        assert await deal_queues(rt, WEDNESDAY_9.astimezone(UTC)) == 1
        dealt_to = (await current(rt, [died.data["lead_id"]]))[died.data["lead_id"]].rep_id
        assert REGISTRY.get_sample_value("leadflow_queue_wait_seconds_count",
                                         {"queue": queue}) == waited + 1
        # The broker is down when the next one is dealt: the decision stands all the same.
        await route_at(rt, [down], WEDNESDAY_9 + timedelta(hours=10))  # 19:00: closed
        rt.publisher = BrokerDown()  # type: ignore[assignment]
        assert await deal_all(rt, WEDNESDAY_9 + timedelta(days=1)) == 1
        rows = await current(rt, [died.data["lead_id"], down.data["lead_id"]])
        assert rows[down.data["lead_id"]].state == "open"
        rt.publisher = real
        # Within the grace the live path may still be publishing; after it, the sweep.
        await deal_queues(rt, (WEDNESDAY_9 + timedelta(days=1, seconds=5)).astimezone(UTC))
        async with rt.engine.connect() as conn:
            within_grace = (await conn.execute(text(
                "SELECT count(*) FROM route.assignments WHERE unpublished_since IS NOT NULL "
                "AND lead_id = CAST(:i AS uuid)"), {"i": down.data["lead_id"]})).scalar()
        assert within_grace == 1
        await deal_queues(rt, (WEDNESDAY_9 + timedelta(days=1, seconds=11)).astimezone(UTC))
        assert gauge("leadflow_queue_depth", queue) == 0
        async with rt.engine.connect() as conn:
            pending = (await conn.execute(text(
                "SELECT count(*) FROM route.assignments WHERE unpublished_since IS NOT NULL "
                "AND lead_id = ANY(CAST(:i AS uuid[]))"),
                {"i": [died.data["lead_id"], down.data["lead_id"]]})).scalar()
    assert pending == 0
    events = [e for e in values(await read_topic(settings, topics.ROUTED, expect=3, settle=0.5))
              if e["type"] == "io.leadflow.lead.reassigned"]
    mine = [e for e in events if e["data"]["lead_id"] == died.data["lead_id"]]
    assert len(mine) == 2 and mine[0]["id"] == mine[1]["id"]  # at least once, one id
    assert {e["data"]["assignment"]["rep_id"] for e in mine} == {dealt_to}  # one decision
    later = [e for e in events if e["data"]["lead_id"] == down.data["lead_id"]]
    assert len(later) == 1 and later[0]["data"]["assignment"]["attempt"] == 2


async def test_a_lead_overflows_to_an_open_team_and_waits_only_when_nobody_anywhere_can_take_it(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, sun, a, k = f"nyc{uid()}", f"apac{uid()}", f"a{uid()}", f"k{uid()}"
    document = night_org(t, [a], overflow=[sun])
    document["teams"].append(team(sun, k, timezone="Asia/Singapore"))  # open all hours
    async with org_in_force(rt, document), client_for(rt) as client:
        first = scored(f"sun1{uid()}@big-co.example")
        await route_at(rt, [first], TUESDAY_23)
        await client.patch(f"/v1/reps/{k}", json={"available": False}, headers=admin(settings))
        second = scored(f"sun2{uid()}@big-co.example")
        await route_at(rt, [second], TUESDAY_23 + timedelta(minutes=1))
        await client.patch(f"/v1/reps/{k}", json={"available": True}, headers=admin(settings))
        rows = await current(rt, [first.data["lead_id"], second.data["lead_id"]])
    took, waited = rows[first.data["lead_id"]], rows[second.data["lead_id"]]
    assert (took.kind, took.rep_id, took.team_id) == ("rep", k, sun)
    record = took.decision
    assert [x["team_id"] for x in record["teams_tried"]] == [t, sun]
    assert record["teams_tried"][0]["candidates"] == [{"rep_id": a, "passed_over": "off_hours"}]
    assert (waited.state, waited.queue, waited.team_id) == ("queued", f"{t}-unassigned", t)
    assert [c["passed_over"] for c in waited.decision["candidates"]] == ["off_hours",
                                                                         "out_of_office"]
    routed = [e for e in values(await read_topic(settings, topics.ROUTED, expect=2))
              if e["data"]["lead_id"] == first.data["lead_id"]]
    assert routed[0]["data"]["assignment"]["reason"] == "overflow"
    assert routed[0]["data"]["assignment"]["overflow_from"] == t


async def test_a_lead_only_its_former_rep_could_take_waits_without_holding_up_a_full_batch(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    t, a, b = f"skip{uid()}", f"a{uid()}", f"b{uid()}"
    now = WEDNESDAY_9 + timedelta(hours=2)
    queue = f"{t}-unassigned"
    async with org_in_force(rt, night_org(t, [a, b])), client_for(rt) as client:
        await client.patch(f"/v1/reps/{b}", json={"available": False}, headers=admin(settings))
        had = scored(f"had{uid()}@big-co.example")
        await route_at(rt, [had], now)  # to a, the only one in
        assert (await current(rt, [had.data["lead_id"]]))[had.data["lead_id"]].rep_id == a
        moved = await client.post(f"/v1/leads/{had.data['lead_id']}/assign",
                                  json={"queue": queue, "reason": "wrong person"},
                                  headers=admin(settings))
        assert moved.status_code == 200, moved.text
        await client.patch(f"/v1/reps/{a}", json={"available": False}, headers=admin(settings))
        later = [scored(f"later{i}{uid()}@big-co.example") for i in range(130)]
        await route_at(rt, later, now + timedelta(minutes=1))
        await client.patch(f"/v1/reps/{a}", json={"available": True}, headers=admin(settings))
        assert await deal_all(rt, now + timedelta(minutes=2)) == 130
        rows = await current(rt, [had.data["lead_id"], *(e.data["lead_id"] for e in later)])
        await client.patch(f"/v1/reps/{b}", json={"available": True}, headers=admin(settings))
    assert rows[had.data["lead_id"]].state == "queued"  # a had it; b is out
    assert {rows[e.data["lead_id"]].rep_id for e in later} == {a}
    assert all(rows[e.data["lead_id"]].attempt == 2 for e in later)
    assert gauge("leadflow_queue_dealable", queue) == 0  # waiting for a hand claim, not stuck


async def test_worklist_states_follow_touches_breaches_and_rejections(
    settings: Settings, runtime: StartRuntime,
) -> None:
    from services.route.timers import fire_due_timers

    rt = await runtime("route")
    t, a = f"state{uid()}", f"a{uid()}"
    now = WEDNESDAY_9 + timedelta(hours=1)
    async with org_in_force(rt, night_org(t, [a])), client_for(rt) as client:
        leads = {name: scored(f"{name}{uid()}@big-co.example")
                 for name in ("met", "late", "backdated", "rejected")}
        ids = {name: e.data["lead_id"] for name, e in leads.items()}
        await route_at(rt, list(leads.values()), now)

        async def post(name: str, action: str, body: dict[str, Any]) -> None:
            response = await client.post(f"/v1/leads/{ids[name]}/{action}", json=body,
                                         headers=admin(settings))
            assert response.status_code == 200, response.text

        at = (now + timedelta(minutes=2)).isoformat()
        await post("met", "touch", {"rep_id": a, "at": at})
        await post("rejected", "reject", {"rep_id": a, "reason": "student"})
        assert await fire_due_timers(rt, (now + timedelta(minutes=6)).astimezone(UTC)) >= 2
        rt.now = lambda: now.astimezone(UTC) + timedelta(minutes=7)

        async def listed(status: str) -> set[str]:
            page = await client.get("/v1/leads", params={"team": t, "status": status},
                                    headers=admin(settings))
            assert page.status_code == 200, page.text
            return {x["lead_id"] for x in page.json()["leads"]}

        before = {s: await listed(s) for s in ("open", "overdue", "met", "breached")}
        late = (now + timedelta(minutes=8)).isoformat()
        await post("late", "touch", {"rep_id": a, "at": late})
        # A touch dated before the lead came to its rep belongs to an earlier assignment.
        await post("backdated", "touch", {"rep_id": a, "at": (now - timedelta(minutes=5)
                                                              ).isoformat()})
        rt.now = lambda: now.astimezone(UTC) + timedelta(minutes=9)
        after = {s: await listed(s) for s in ("overdue", "breached")}
        nurture = (await client.get("/v1/leads", params={"status": "nurture", "since": (
            now - timedelta(minutes=1)).isoformat()}, headers=admin(settings))).json()
    assert before["met"] == {ids["met"]}
    assert before["open"] == set()
    # No escalation in this org: the breached leads stay with the rep, untouched.
    assert before["overdue"] == before["breached"] == {ids["late"], ids["backdated"]}
    assert after["overdue"] == {ids["backdated"]}
    assert after["breached"] == {ids["late"], ids["backdated"]}
    assert ids["rejected"] in {x["lead_id"] for x in nurture["leads"]}


async def test_a_claim_racing_the_dealer_and_a_manager_gives_the_lead_to_one_rep(
    settings: Settings, runtime: StartRuntime,
) -> None:
    rt, other = await runtime("route"), await runtime("route")
    t, a, b = f"race{uid()}", f"a{uid()}", f"b{uid()}"
    async with org_in_force(rt, night_org(t, [a, b])), client_for(rt) as client:
        events = [scored(f"race{i}{uid()}@big-co.example") for i in range(20)]
        ids = [e.data["lead_id"] for e in events]
        await route_at(rt, events, TUESDAY_23)
        rt.now = lambda: WEDNESDAY_9.astimezone(UTC)
        claims = [client.post(f"/v1/leads/{i}/claim", json={"rep_id": b},
                              headers=admin(settings)) for i in ids[::2]]
        moves = [client.post(f"/v1/leads/{i}/assign", json={"rep_id": a, "reason": "mine"},
                             headers=admin(settings)) for i in ids[::4]]  # claimed ones too
        results = await asyncio.gather(deal_all(other, WEDNESDAY_9), *claims, *moves)
        rows = await assignments(rt, ids)
    answers = [r.status_code for r in results[1:]]  # type: ignore[union-attr]
    assert set(answers) <= {200, 409}, answers
    per_lead: dict[str, list[Any]] = {}
    for r in rows:
        per_lead.setdefault(str(r.lead_id), []).append(r)
    # Every lead was dealt or claimed exactly once; a manager's move may come after that.
    assert all(v[0].kind == "queue" and v[1].attempt == 2 for v in per_lead.values())
    assert all(len({(x.attempt) for x in v}) == len(v) for v in per_lead.values())
    claimed = sum(1 for code in answers[:len(ids[::2])] if code == 200)
    assert claimed == sum(1 for v in per_lead.values() if v[1].reason == "claimed")
    # On the topic, each (lead, attempt) is one event with one rep, and matches the store.
    wanted = set(ids)
    seen: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for e in values(await read_topic(settings, topics.ROUTED, expect=len(rows), settle=1)):
        if e["data"]["lead_id"] in wanted:
            a_ = e["data"]["assignment"]
            seen.setdefault((e["data"]["lead_id"], a_["attempt"]), set()).add(
                (e["id"], str(a_.get("rep_id"))))
    assert all(len(v) == 1 for v in seen.values()), seen
    assert {k: next(iter(v))[1] for k, v in seen.items()} == {
        (str(r.lead_id), r.attempt): str(r.rep_id) for r in rows}


async def test_the_migration_builds_a_leads_current_state_from_its_assignments(
    settings: Settings, runtime: StartRuntime,
) -> None:
    import importlib

    backfill = next(statement for statement in importlib.import_module(
        "migrations.versions.0006_route_leads").UPGRADE.split(";\n")
        if statement.strip().startswith("INSERT INTO route.leads"))
    rt = await runtime("route")
    t, a = f"mig{uid()}", f"a{uid()}"
    now = WEDNESDAY_9 + timedelta(hours=5)
    async with org_in_force(rt, night_org(t, [a])), client_for(rt) as client:
        touched, waiting = scored(f"m1{uid()}@big-co.example"), scored(f"m2{uid()}@big-co.example")
        await route_at(rt, [touched], now)
        await client.post(f"/v1/leads/{touched.data['lead_id']}/touch",
                          json={"rep_id": a, "at": (now + timedelta(minutes=1)).isoformat()},
                          headers=admin(settings))
        await route_at(rt, [waiting], TUESDAY_23)
        ids = [touched.data["lead_id"], waiting.data["lead_id"]]
        columns = ("lead_id, attempt, state, kind, rep_id, team_id, queue, track, temperature, "
                   "points, provider, utm_source, received_at, assigned_at, due_at, touched_at")
        async with rt.engine.begin() as conn:
            live = (await conn.execute(text(
                f"SELECT {columns} FROM route.leads WHERE lead_id = ANY(CAST(:i AS uuid[])) "
                "ORDER BY lead_id"), {"i": ids})).all()
            await conn.execute(text("DELETE FROM route.leads WHERE lead_id = ANY(CAST(:i AS "
                                    "uuid[]))"), {"i": ids})
            await conn.execute(text(backfill + " ON CONFLICT (lead_id) DO NOTHING"))
            rebuilt = (await conn.execute(text(
                f"SELECT {columns} FROM route.leads WHERE lead_id = ANY(CAST(:i AS uuid[])) "
                "ORDER BY lead_id"), {"i": ids})).all()
    assert len(live) == 2 and rebuilt == live
