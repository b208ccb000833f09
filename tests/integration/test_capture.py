"""Capture over HTTP on the real broker and database: 202 only after the broker's ack,
the same lead_id for a retry, 4xx that name the field, 503 with Retry-After when the
broker is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from leadflow import embedded
from services.capture.main import build as build_capture
from shared import topics
from shared.kafka import ensure_topics
from shared.service import Runtime, make_app
from shared.settings import Settings
from tests.kafka_tools import read_topic, values


@asynccontextmanager
async def capture_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    rt = await Runtime.start("capture", settings)
    parts = build_capture(rt)
    app = make_app("capture", rt, parts)
    asgi = parts.wrap(app) if parts.wrap else app
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi),
                                     base_url="http://capture") as client:
            yield client, rt
    finally:
        await rt.close()


def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"}


async def test_a_lead_is_accepted_once_and_a_retry_gets_the_same_lead_id(
    settings: Settings,
) -> None:
    async with capture_client(settings) as (client, _):
        headers = {**auth(settings), "Idempotency-Key": "order-42"}
        lead = {"email": "José.Müller@Example-Shop.de", "full_name": "José Müller",
                "country": "Germany", "phone": "030 1234567"}
        first = await client.post("/v1/leads", json=lead, headers=headers)
        again = await client.post("/v1/leads", json=lead, headers=headers)
        changed = await client.post("/v1/leads", json={**lead, "job_title": "CEO"},
                                    headers=headers)
        assert first.status_code == 202 and first.json()["status"] == "accepted"
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        assert changed.json() == again.json()  # the key, not the content, names the lead
        assert len({r.json()["lead_id"] for r in (first, again, changed)}) == 1
        captured = values(await read_topic(settings, topics.CAPTURED, expect=1, settle=1))
        assert len(captured) == 1
        event = captured[0]
        assert event["specversion"] == "1.0" and event["type"] == "io.leadflow.lead.captured"
        assert event["dataschema"] == "leadflow:lead.captured/v1"
        data = event["data"]
        assert data["contact"]["email"] == "josé.müller@example-shop.de"
        assert data["contact"]["phone"] == "+49301234567"
        assert data["country"] == "DE"
        assert data["contact"]["first_name"] == "José"


async def test_bad_input_gets_a_4xx_that_names_the_field(settings: Settings) -> None:
    async with capture_client(settings) as (client, _):
        h = auth(settings)
        cases = [
            (await client.post("/v1/leads", json={"email": "x@"}, headers=h), 422,
             "contact.email"),
            (await client.post("/v1/leads", json={"first_name": "No Channel"}, headers=h), 422,
             "contact"),
            (await client.post("/v1/leads", json={"phone": "12"}, headers=h), 422,
             "contact.phone"),
            (await client.post("/v1/leads", json={"email": "a@b.example", "country": "Atlantis"},
                               headers=h), 422, "country"),
            (await client.post("/v1/leads", content=b"{not json", headers={
                **h, "content-type": "application/json"}), 422, "body"),
            (await client.post("/v1/leads", content=b"email=a@b.example", headers={
                **h, "content-type": "application/x-www-form-urlencoded"}), 415,
             "content-type"),
            (await client.post("/v1/leads", content=b"[" + b"1," * 600_000 + b"1]", headers={
                **h, "content-type": "application/json"}), 413, "body"),
            (await client.post("/v1/leads", json=[1, 2], headers=h), 422, "body"),
        ]
        for response, status, field in cases:
            assert response.status_code == status, response.text
            assert response.json()["errors"][0]["field"] == field
        unauthorized = await client.post("/v1/leads", json={"email": "a@b.example"})
        wrong = await client.post("/v1/leads", json={"email": "a@b.example"},
                                  headers={"Authorization": "Bearer nope"})
        assert unauthorized.status_code == wrong.status_code == 401
        metrics = (await client.get("/metrics")).text
        assert 'leadflow_leads_received_total{outcome="invalid",provider="api"}' in metrics
        assert 'leadflow_leads_received_total{outcome="unauthorized",provider="api"}' in metrics


async def test_a_batch_accepts_the_good_leads_and_names_the_bad_ones(settings: Settings) -> None:
    async with capture_client(settings) as (client, _):
        body = {"leads": [{"email": "one@batch.example"}, {"email": "broken@"},
                          {"phone": "+1 415 555 0100", "idempotency_key": "b-3"}]}
        response = await client.post("/v1/leads/batch", json=body, headers=auth(settings))
        assert response.status_code == 200
        result = response.json()
        assert (result["accepted"], result["invalid"]) == (2, 1)
        assert result["results"][1]["errors"][0]["field"] == "leads[1].contact.email"
        assert len(values(await read_topic(settings, topics.CAPTURED, expect=2))) == 2


async def test_with_the_broker_down_capture_answers_503_and_a_retry_publishes(
    settings: Settings, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    broker_dir, port = tmp_path_factory.mktemp("down"), embedded.free_port()
    broker = embedded.start_broker(broker_dir, port)
    own = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
    try:
        async with capture_client(own) as (client, _rt):
            lead = {"email": "patient@retry.example"}
            headers = {**auth(own), "Idempotency-Key": "down-1"}
            assert (await client.post("/v1/leads", json=lead, headers=headers)).status_code == 202
            await asyncio.to_thread(broker.stop)
            down = await client.post("/v1/leads", json={"email": "later@retry.example"},
                                     headers={**auth(own), "Idempotency-Key": "down-2"})
            assert down.status_code == 503
            assert down.headers["Retry-After"]
            assert "broker" in down.json()["reason"]
            # The broker is back (a fresh one on the same port): the sender's retry of the
            # refused lead is published, and the receipt now says so.
            broker = embedded.start_broker(broker_dir, port)
            await ensure_topics(own)
            retry = None
            for _ in range(20):
                retry = await client.post("/v1/leads", json={"email": "later@retry.example"},
                                          headers={**auth(own), "Idempotency-Key": "down-2"})
                if retry.status_code != 503:
                    break
                await asyncio.sleep(0.5)  # as a sender honouring Retry-After would, sooner
            assert retry is not None and retry.status_code == 202, retry.text
            assert (await client.post("/v1/leads", json={"email": "later@retry.example"},
                                      headers={**auth(own), "Idempotency-Key": "down-2"})
                    ).json()["status"] == "duplicate"
            # The refused attempt may still reach the broker once it is back (at least once);
            # every copy is the same event of the same lead, which the pipeline dedupes.
            published = values(await read_topic(own, topics.CAPTURED, expect=1, settle=1))
            assert {e["data"]["contact"]["email"] for e in published} == {"later@retry.example"}
            assert len({(e["id"], e["data"]["lead_id"]) for e in published}) == 1
    finally:
        broker.stop()
