"""Route's SLA ladder and the sales loop on the real broker and database: reminders once
per step across replicas, sticky routing for a returning person, accept and reject (back
to nurture with the reason), and team notifications that are retried and never block."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from services.route import notify
from services.route.handlers import handle_route_batch
from services.route.main import build as build_route
from services.route.timers import fire_due_timers, fire_due_warnings
from shared import topics
from shared.events import make_event
from shared.orgstore import apply_org
from shared.service import Runtime, make_app
from shared.settings import Settings
from tests.builders import demo_org_open_all_hours
from tests.integration.test_route import assignments, scored
from tests.kafka_tools import read_topic, values

HOOK = "http://hooks.example/enterprise"


def ladder_org(directory: Path) -> Path:
    """The demo org (open all hours) with hot reminders at half and 80 % of the deadline
    and a webhook for the enterprise team."""
    document = yaml.safe_load(demo_org_open_all_hours(directory).read_text())
    document["sla"]["hot"]["warn_at"] = [0.5, 0.8]
    enterprise = next(t for t in document["teams"] if t["id"] == "enterprise")
    enterprise["notify"] = {"webhook_url": HOOK}
    path = directory / "org-ladder.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@asynccontextmanager
async def route_with_ladder(settings: Settings, replicas: int = 1
                            ) -> AsyncIterator[list[Runtime]]:
    runtimes = [await Runtime.start("route", settings) for _ in range(replicas)]
    await apply_org(runtimes[0].engine, ladder_org(settings.data_dir))
    try:
        yield runtimes
    finally:
        await apply_org(runtimes[0].engine, demo_org_open_all_hours(settings.data_dir))
        for rt in runtimes:
            await rt.close()


async def timer_rows(rt: Runtime, lead_id: str) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT attempt, state, warnings, warn_ats[warnings + 1] AS next_warn_at, due_at "
            "FROM route.sla_timers "
            "WHERE lead_id = CAST(:i AS uuid) ORDER BY attempt"), {"i": lead_id})).all())


async def notifications(rt: Runtime, lead_ids: list[str]) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT id, kind, state, attempts, payload, last_error FROM route.notifications "
            "WHERE lead_id = ANY(CAST(:i AS uuid[])) ORDER BY id"), {"i": lead_ids})).all())


async def settle_other_notifications(rt: Runtime) -> None:
    """Messages earlier tests left pending (no sender runs in tests) are marked sent, so
    a test's sender sees its own."""
    async with rt.engine.begin() as conn:
        await conn.execute(text(
            "UPDATE route.notifications SET state = 'sent' WHERE state = 'pending'"))


def sla_events(events: list[dict[str, Any]], kind: str, ids: set[str]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == f"io.leadflow.{kind}"
            and e["data"]["lead_id"] in ids]


async def test_reminders_fire_once_per_step_across_replicas_and_stop_at_a_touch(
    settings: Settings,
) -> None:
    async with route_with_ladder(settings, replicas=2) as (a, b):
        events = [scored(f"remind{i}@big-co.example") for i in range(4)]
        ids = [e.data["lead_id"] for e in events]
        await handle_route_batch(events, a)
        start = datetime.fromisoformat(
            (await timer_rows(a, ids[0]))[0].due_at.isoformat()) - timedelta(minutes=5)
        first = await timer_rows(a, ids[0])
        assert first[0].warnings == 0 and first[0].next_warn_at == start + timedelta(
            minutes=2, seconds=30)

        # The last lead is touched before any reminder: it never gets one.
        app = make_app("route", a, build_route(a))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://route") as client:
            touched = await client.post(f"/v1/leads/{ids[3]}/touch", json={"rep_id": "x"},
                                        headers={"Authorization": f"Bearer {settings.admin_key}"})
            assert touched.json()["status"] == "met"

        half = start + timedelta(minutes=2, seconds=31)
        fired = await asyncio.gather(fire_due_warnings(a, half), fire_due_warnings(b, half))
        assert sum(fired) >= 3
        assert await fire_due_warnings(a, half) == 0  # each step once
        late = start + timedelta(minutes=4, seconds=1)
        await asyncio.gather(fire_due_warnings(a, late), fire_due_warnings(b, late))
        assert await fire_due_warnings(b, late) == 0
        assert [r.warnings for r in await timer_rows(a, ids[0])] == [2]

        warnings = sla_events(values(await read_topic(settings, topics.SLA, expect=6,
                                                      settle=1)), "sla.warning", set(ids))
        steps = sorted((e["data"]["lead_id"], e["data"]["warning"]) for e in warnings)
        assert steps == sorted((i, s) for i in ids[:3] for s in (1, 2))
        assert all(e["data"]["of"] == 2 and e["data"]["due_at"] for e in warnings)

        # Past the deadline a breach fires, not a reminder.
        assert await fire_due_warnings(a, start + timedelta(minutes=6)) == 0
        assert await fire_due_timers(a, start + timedelta(minutes=6)) >= 3


async def test_after_downtime_only_the_latest_reminder_due_is_sent(settings: Settings) -> None:
    async with route_with_ladder(settings) as (rt,):
        event = scored("downtime@big-co.example")
        lead_id = event.data["lead_id"]
        await handle_route_batch([event], rt)
        due = (await timer_rows(rt, lead_id))[0].due_at
        assert await fire_due_warnings(rt, due - timedelta(seconds=30)) == 1
        assert await fire_due_warnings(rt, due - timedelta(seconds=1)) == 0
        warnings = sla_events(values(await read_topic(settings, topics.SLA, expect=1,
                                                      settle=0.5)), "sla.warning", {lead_id})
        assert [e["data"]["warning"] for e in warnings] == [2]


async def test_a_returning_person_goes_back_to_the_rep_who_holds_them(
    settings: Settings,
) -> None:
    async with route_with_ladder(settings) as (rt,):
        first = scored("returning@big-co.example")
        await handle_route_batch([first], rt)
        await asyncio.sleep(0.01)  # a later submission: another lead, the same person
        again = scored("returning@big-co.example", employees=900)
        other = scored("someone-else@big-co.example")
        assert again.data["lead_id"] != first.data["lead_id"]
        assert again.data["person_key"] == first.data["person_key"]
        await handle_route_batch([again, other], rt)
        routed = {str(r.lead_id): r for r in await assignments(
            rt, [e.data["lead_id"] for e in (first, again, other)])}
        holder = routed[first.data["lead_id"]].rep_id
        back = routed[again.data["lead_id"]]
        assert back.rep_id == holder
        assert back.reason == "returning_person" and back.strategy == "sticky"
        # Stickiness takes no rotation turn: the next new person gets the next rep.
        order = ["ana", "ben", "chloe"]
        assert routed[other.data["lead_id"]].rep_id == order[
            (order.index(holder) + 1) % 3]


async def test_a_rejected_lead_goes_back_to_nurture_with_its_reason_and_is_not_sticky(
    settings: Settings,
) -> None:
    async with route_with_ladder(settings) as (rt,):
        app = make_app("route", rt, build_route(rt))
        headers = {"Authorization": f"Bearer {settings.admin_key}"}
        event = scored("rejected@big-co.example")
        cold = scored("cold-reject@big-co.example", temperature="cold", employees=5)
        lead_id = event.data["lead_id"]
        await handle_route_batch([event, cold], rt)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://route") as client:
            journey = (await client.get(f"/v1/leads/{lead_id}", headers=headers)).json()
            rep_id = journey["assignments"][0]["rep_id"]
            no_reason = await client.post(f"/v1/leads/{lead_id}/reject", json={},
                                          headers=headers)
            wrong_rep = await client.post(f"/v1/leads/{lead_id}/reject",
                                          json={"rep_id": "nobody", "reason": "x"},
                                          headers=headers)
            rejected = await client.post(f"/v1/leads/{lead_id}/reject",
                                         json={"rep_id": rep_id, "reason": "no budget"},
                                         headers=headers)
            again = await client.post(f"/v1/leads/{lead_id}/reject",
                                      json={"rep_id": rep_id, "reason": "no budget"},
                                      headers=headers)
            nurtured = await client.post(f"/v1/leads/{cold.data['lead_id']}/reject",
                                         json={"reason": "x"}, headers=headers)
            journey = (await client.get(f"/v1/leads/{lead_id}", headers=headers)).json()
        assert no_reason.status_code == 422 and "reason" in no_reason.text
        assert wrong_rep.status_code == 409 and rep_id in wrong_rep.text
        assert rejected.status_code == 200, rejected.text
        assignment = rejected.json()["assignment"]
        assert assignment["kind"] == "nurture" and assignment["track"] == "sales-rejected"
        assert assignment["attempt"] == 2 and assignment["reason"] == "rejected"
        assert assignment["rejected"]["reason"] == "no budget"
        assert again.json()["status"] == "already_rejected"
        assert nurtured.status_code == 409
        assert "rejected" in [s["step"] for s in journey["steps"]]
        assert journey["assignments"][1]["decision"]["reason"] == "no budget"
        assert [r.state for r in await timer_rows(rt, lead_id)] == ["rejected"]
        moved = [e for e in values(await read_topic(settings, topics.ROUTED, expect=3))
                 if e["type"] == "io.leadflow.lead.reassigned"
                 and e["data"]["lead_id"] == lead_id]
        # The repeat publishes the stored event again (a redelivery after a crash between
        # commit and publish must not lose it): one event, however often it goes out.
        assert len({e["id"] for e in moved}) == 1
        assert moved[0]["data"]["assignment"]["rejected"]["rep_id"] == rep_id

        # The rejecting rep no longer holds the person: a new lead of theirs is routed
        # by the rules, not stuck to that rep by stickiness.
        returning = scored("rejected@big-co.example", employees=900)
        await handle_route_batch([returning], rt)
        async with rt.engine.connect() as conn:
            reason = (await conn.execute(text(
                "SELECT reason FROM route.assignments WHERE lead_id = CAST(:i AS uuid)"),
                {"i": returning.data["lead_id"]})).scalar()
        assert reason == "rule"


async def test_sales_tools_accept_and_reject_on_the_activity_topic(settings: Settings) -> None:
    async with route_with_ladder(settings) as (rt,):
        take, drop = scored("accept@big-co.example"), scored("drop@big-co.example")
        await handle_route_batch([take, drop], rt)
        now = datetime.now(UTC).isoformat()
        feedback = [
            make_event("lead.accepted", "crm", {"lead_id": take.data["lead_id"], "at": now}),
            make_event("lead.rejected", "crm", {"lead_id": drop.data["lead_id"],
                                                "reason": "student", "at": now}),
            make_event("lead.rejected", "crm", {"lead_id": "not-a-lead", "reason": "x"}),
        ]
        await handle_route_batch(feedback, rt)
        await handle_route_batch(feedback, rt)  # redelivered: nothing changes twice
        assert [r.state for r in await timer_rows(rt, take.data["lead_id"])] == ["met"]
        assert [r.state for r in await timer_rows(rt, drop.data["lead_id"])] == ["rejected"]
        async with rt.engine.connect() as conn:
            attempts = (await conn.execute(text(
                "SELECT count(*) FROM route.assignments WHERE lead_id = CAST(:i AS uuid)"),
                {"i": drop.data["lead_id"]})).scalar()
        assert attempts == 2


async def test_notifications_are_sent_after_the_decision_retried_and_never_block_routing(
    settings: Settings,
) -> None:
    calls: list[dict[str, Any]] = []
    down = {"on": True}

    def webhook(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == HOOK
        if down["on"]:
            return httpx.Response(503, text="slack is down")
        calls.append(httpx.Response(200, content=request.content).json())
        return httpx.Response(200, text="ok")

    async with route_with_ladder(settings) as (rt,):
        await settle_other_notifications(rt)
        events = [scored(f"notify{i}@big-co.example") for i in range(3)]
        ids = [e.data["lead_id"] for e in events]
        # The webhook is down: routing goes on regardless, the messages wait.
        await handle_route_batch(events, rt)
        rows = await notifications(rt, ids)
        assert [r.kind for r in rows] == ["assigned"] * 3
        async with httpx.AsyncClient(transport=httpx.MockTransport(webhook)) as client:
            now = datetime.now(UTC)
            assert await notify.send_due(rt, client, now) >= 3
            rows = await notifications(rt, ids)
            assert all(r.state == "pending" and r.attempts == 1 and "503" in r.last_error
                       for r in rows)
            assert await notify.send_due(rt, client, now) == 0  # backing off
            down["on"] = False
            await notify.send_due(rt, client, now + timedelta(seconds=3))
        rows = await notifications(rt, ids)
        assert all(r.state == "sent" for r in rows), rows
        mine = [c for c in calls if any(i in c["text"] for i in ids)]
        assert len(mine) == 3
        assert all(c["text"].startswith("*New hot lead for ") and c["blocks"] for c in mine)


async def test_a_webhook_that_keeps_failing_is_given_up_with_its_error(
    settings: Settings,
) -> None:

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with route_with_ladder(settings) as (rt,):
        await settle_other_notifications(rt)
        event = scored("giveup@big-co.example")
        await handle_route_batch([event], rt)
        async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as client:
            now = datetime.now(UTC)
            await notify.send_due(rt, client, now, max_attempts=2)
            await notify.send_due(rt, client, now + timedelta(minutes=1), max_attempts=2)
        [row] = await notifications(rt, [event.data["lead_id"]])
        assert row.state == "failed" and row.attempts == 2
        assert "connection refused" in row.last_error
