"""`POST /v1/activities` on capture: an activity of a known lead (by lead id or by the
person's email) is published as `activity.recorded` on `leads.activity`; a retry is the
same event; bad input is a 4xx naming the field."""

from __future__ import annotations

from shared import topics
from shared.settings import Settings
from tests.integration.test_capture import auth, capture_client
from tests.kafka_tools import read_topic, values


async def test_activities_of_known_leads_are_published_once_per_event(
        settings: Settings) -> None:
    async with capture_client(settings) as (client, _):
        h = auth(settings)
        lead = await client.post("/v1/leads", json={"email": "Rita@Acts.example"}, headers=h)
        lead_id = lead.json()["lead_id"]
        by_email = {"email": "rita@acts.example", "type": "pricing_page_visit",
                    "at": "2026-11-24T09:00:00+01:00", "props": {"url": "/pricing"}}
        first = await client.post("/v1/activities", json=by_email, headers=h)
        again = await client.post("/v1/activities", json=by_email, headers=h)
        many = await client.post("/v1/activities", json={"activities": [
            {"lead_id": lead_id, "type": "webinar_attended", "at": "2026-11-24T10:00:00Z"},
            {"lead_id": lead_id, "type": "email_click"}]}, headers=h)
        assert first.status_code == again.status_code == many.status_code == 202, many.text
        assert first.json()["results"] == again.json()["results"]
        keyed = {"lead_id": lead_id, "type": "email_open", "id": "esp-123"}  # no `at`
        once = await client.post("/v1/activities", json=keyed, headers=h)
        twice = await client.post("/v1/activities", json=keyed, headers=h)
        assert once.json()["results"] == twice.json()["results"]  # the sender's id names it
        records = values(await read_topic(settings, topics.ACTIVITY, expect=6, settle=0.5))
        assert {r["type"] for r in records} == {"io.leadflow.activity.recorded"}
        assert all(r["data"]["lead_id"] == lead_id for r in records)
        records = [r for r in records if r["data"]["activity"]["type"] != "email_open"]
        ids = [r["id"] for r in records]
        assert len(set(ids)) == 3  # the retried post is the same event
        visit = next(r["data"] for r in records if r["data"]["activity"]["type"] ==
                     "pricing_page_visit")
        assert visit["activity"]["at"] == "2026-11-24T08:00:00+00:00"
        assert visit["activity"]["props"] == {"url": "/pricing"}


async def test_bad_activities_are_refused_naming_the_field(settings: Settings) -> None:
    async with capture_client(settings) as (client, _):
        h = auth(settings)
        cases = [
            ({"email": "x@y.example", "type": "Visit!"}, 422, "type"),
            ({"email": "x@y.example", "type": "visit", "at": "yesterday"}, 422, "at"),
            ({"type": "visit"}, 422, "lead_id"),
            ({"lead_id": "nope", "type": "visit"}, 422, "lead_id"),
            ({"email": "nobody@unknown.example", "type": "visit"}, 404, "email"),
            ({"activities": [{"email": "x@", "type": "visit"}]}, 422, "activities[0].email"),
            ({"activities": []}, 422, "activities"),
        ]
        for body, status, field in cases:
            reply = await client.post("/v1/activities", json=body, headers=h)
            assert reply.status_code == status, (body, reply.text)
            assert reply.json()["errors"][0]["field"] == field, (body, reply.text)
        assert (await client.post("/v1/activities", json=cases[0][0])).status_code == 401
        other = await client.post("/v1/activities", content=b"type=visit", headers={
            **h, "content-type": "application/x-www-form-urlencoded"})
        assert other.status_code == 415
