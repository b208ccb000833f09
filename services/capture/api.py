"""Capture's HTTP surface: verify, validate, publish, answer (DESIGN.md section 7).

Capture stays thin: no enrichment in the request. It answers 2xx only after the broker
has acknowledged `lead.captured`; with the broker or database down it answers 503 with
Retry-After, and the sender's retry finds the receipt and completes the publish.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from services.capture import replies
from services.capture.activities import MAX_PER_REQUEST, read_activity
from services.capture.intake import InvalidLeadError, lead_from_payload
from services.capture.replies import Reply, counted
from services.capture.store import Delivery, Receipt, ReceiptStore
from shared import topics
from shared.auth import bearer_matches
from shared.errors import BrokerError, RetryableError
from shared.events import Event, Outgoing, derived_id, make_event
from shared.lead import Lead
from shared.service import Runtime

log = logging.getLogger("leadflow.capture")

PUBLISH_TIMEOUT_S = 5.0
SERVICE = "capture"
LEAD_PATH = "/v1/leads"
BATCH_PATH = "/v1/leads/batch"
MAX_BATCH = 1000


class Accepted(BaseModel):
    lead_id: str
    status: str


def captured_event(lead: Lead) -> Outgoing:
    """`lead.captured` for a lead; its id derives from the lead, so a republish (a
    sender's retry, `leadflow capture replay`) is the same event to every reader."""
    event = Event(type="lead.captured", source=f"/leadflow/{SERVICE}",
                  subject=lead.lead_id, data={"lead_id": lead.lead_id},
                  id=derived_id(lead.lead_id, "captured"),
                  _data_json=lead.model_dump_json().encode())
    return Outgoing(topics.CAPTURED, lead.person_key, event)


class Capture:
    """Accepts leads: receipt, publish (acked), mark published."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.receipts = ReceiptStore(rt.engine)
        self._in_flight: set[str] = set()  # lead ids between receipt and publish here

    # -- the HTTP edge, shared by the routes and the fast path -------------------------

    def read_json(self, provider: str, headers: Mapping[str, str], body: bytes
                  ) -> tuple[str, Any] | Reply:
        """The checks of every keyed JSON endpoint: bearer API key (401), JSON content type
        (415), size (413), JSON (422). The media type and the payload, or the refusal."""
        if not bearer_matches(headers.get("authorization", ""), self.rt.settings.api_key):
            return counted(provider, replies.unauthorized())
        ctype = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            return counted(provider, replies.invalid(
                "content-type", f"{ctype} is not application/json", status=415))
        if len(body) > self.rt.settings.max_body_bytes:
            return counted(provider, replies.invalid(
                "body", f"larger than {self.rt.settings.max_body_bytes} bytes", status=413))
        try:
            return ctype, orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return counted(provider, replies.invalid("body", f"not valid JSON: {exc}"))

    async def post(self, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """`POST /v1/leads` or `/v1/leads/batch` from raw headers (lower-case names) and body."""
        provider = "api"
        read = self.read_json(provider, headers, body)
        if isinstance(read, Reply):
            return read
        ctype, payload = read
        delivery = Delivery(str(uuid.uuid4()), provider, self.rt.now(), ctype, body)
        if path == BATCH_PATH:
            return await self.accept_batch(payload, provider, delivery)
        key = (headers.get("idempotency-key") or "").strip() or None
        if key is not None and (len(key) > 255 or not key.isprintable()):
            return counted(provider, replies.invalid(
                "Idempotency-Key", "at most 255 characters, no control characters"))
        try:
            lead = lead_from_payload(payload, provider=provider, channel="api",
                                     now=delivery.received_at, sender_id=key)
        except InvalidLeadError as bad:
            return counted(provider, replies.invalid(bad.field, bad.reason))
        # The receipt's payload is this request's raw body: no separate delivery row on
        # the hot path.
        answers = await self.accept_leads([lead], provider, payloads=[body], sender_ids=[key])
        return answers[0]

    async def accept_batch(self, payload: Any, provider: str, delivery: Delivery) -> Reply:
        items = payload.get("leads") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            return counted(provider, replies.invalid("leads",
                                                     "must be a non-empty list of leads"))
        if len(items) > MAX_BATCH:
            return counted(provider, replies.invalid("leads",
                                                     f"at most {MAX_BATCH} leads per request"))
        now = self.rt.now()
        results: list[dict[str, Any] | None] = [None] * len(items)
        leads: list[Lead] = []
        positions: list[int] = []
        keys: list[str | None] = []
        for i, item in enumerate(items):
            key = item.pop("idempotency_key", None) if isinstance(item, dict) else None
            try:
                if key is not None and (not isinstance(key, str) or len(key) > 255
                                        or not key.isprintable()):
                    raise InvalidLeadError("idempotency_key", "must be a string of at most 255 "
                                      "characters, no control characters")
                key = key.strip() or None if key else None
                leads.append(lead_from_payload(item, provider=provider, channel="api", now=now,
                                               sender_id=key))
                positions.append(i)
                keys.append(key)
            except InvalidLeadError as bad:
                replies.count(provider, "invalid")
                results[i] = {"index": i, "status": "invalid",
                              "errors": [{"field": f"leads[{i}].{bad.field}",
                                          "reason": bad.reason}]}
        if leads:
            answers = await self.accept_leads(
                leads, provider, payloads=[orjson.dumps(items[i]) for i in positions],
                sender_ids=keys, delivery=delivery)
            deferred = next((r for r in answers if r.status == 503), None)
            if deferred is not None:
                return deferred
            for i, reply in zip(positions, answers, strict=True):
                results[i] = {"index": i, **reply.body}
        done = [r for r in results if r is not None]
        counts = {s: sum(1 for r in done if r["status"] == s)
                  for s in ("accepted", "duplicate", "invalid")}
        return Reply(200, {"results": done, **counts})

    async def accept_leads(self, leads: list[Lead], provider: str, *,
                           payloads: list[bytes] | None = None,
                           sender_ids: list[str | None] | None = None,
                           delivery: Delivery | None = None,
                           delivery_id: str | None = None) -> list[Reply]:
        """Receipts (with each lead's payload and the delivery's raw body), publish, mark
        published; one reply per lead: 202 accepted, 200 duplicate or 503.

        A lead named twice in one request is accepted once (the repeat answers as the
        first does, or duplicate). A lead another request of this process is accepting
        right now answers 503, so its event is published once; were that other request
        to fail, the sender's retry finds the receipt unpublished and publishes."""
        first: dict[str, int] = {}
        repeats: dict[int, int] = {}
        busy: list[int] = []
        for i, lead in enumerate(leads):
            if lead.lead_id in first:
                repeats[i] = first[lead.lead_id]
            elif lead.lead_id in self._in_flight:
                busy.append(i)
            else:
                first[lead.lead_id] = i
        mine = list(first.values())
        ids = [leads[i].lead_id for i in mine]
        self._in_flight.update(ids)
        try:
            answers = dict(zip(mine, await self._accept_unique(
                [leads[i] for i in mine], provider,
                payloads=[payloads[i] for i in mine] if payloads else None,
                sender_ids=[sender_ids[i] for i in mine] if sender_ids else None,
                delivery=delivery, delivery_id=delivery_id), strict=True))
        finally:
            self._in_flight.difference_update(ids)
        for i in busy:
            answers[i] = counted(provider, replies.unavailable(
                "this lead is being accepted by another delivery; retry later"))
        for i, j in repeats.items():
            if answers[j].status == 503:
                answers[i] = answers[j]
                continue
            answers[i] = counted(provider, replies.duplicate(leads[i].lead_id))
        return [answers[i] for i in range(len(leads))]

    async def _accept_unique(self, leads: list[Lead], provider: str, *,
                             payloads: list[bytes] | None, sender_ids: list[str | None] | None,
                             delivery: Delivery | None, delivery_id: str | None) -> list[Reply]:
        if not leads:
            return []
        try:
            receipts = [Receipt(lead.lead_id, provider,
                                sender_ids[i] if sender_ids else None,
                                lead.person_key, lead.received_at,
                                payloads[i] if payloads else None, delivery, delivery_id)
                        for i, lead in enumerate(leads)]
            # One lead (a request of its own) joins other requests' group commit; a batch
            # request is its own group.
            states = ([await self.receipts.record(receipts[0])] if len(receipts) == 1
                      else await self.receipts.record_many(receipts))
        except RetryableError as exc:
            log.warning("receipts not written: %s", exc)
            return [counted(provider, replies.unavailable("database unavailable; retry later"))
                    ] * len(leads)
        answers: list[Reply | None] = [None] * len(leads)
        out: list[Outgoing] = []
        for i, (lead, state) in enumerate(zip(leads, states, strict=True)):
            if state.published:
                answers[i] = counted(provider, replies.duplicate(lead.lead_id))
                continue
            # A redelivery after a failed publish keeps the first acceptance time.
            lead.received_at = state.received_at
            lead.timings.received_at = state.received_at
            out.append(captured_event(lead))
        if out:
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                    await self.rt.publisher.publish(out)
            except (TimeoutError, RetryableError, BrokerError) as exc:
                # Any broker error means no acknowledgement: the sender retries.
                log.warning("broker did not acknowledge %d lead(s): %r", len(out), exc)
                return [counted(provider, replies.unavailable("broker unavailable; retry later"))
                        ] * len(leads)
            try:
                if len(out) == 1:
                    await self.receipts.mark_published(out[0].event.subject)
                else:
                    await self.receipts.mark_many_published([o.event.subject for o in out])
            except RetryableError as exc:
                # The events are out; a retry publishes them once more (same lead_id and
                # event id, so the pipeline treats it as the same lead). Accepting is right.
                log.warning("receipts not marked published: %s", exc)
        accepted = 0
        for i, lead in enumerate(leads):
            if answers[i] is None:
                accepted += 1
                answers[i] = replies.accepted(lead.lead_id)
        replies.count(provider, "accepted", accepted)
        return [r for r in answers if r is not None]


class FastPath:
    """Serves capture's hot paths (`POST /v1/leads`, `/v1/leads/batch`) straight from ASGI.

    The FastAPI routes below document the same endpoints and run the same `Capture.post`;
    skipping the framework's routing and middleware on the hot path halves capture's CPU
    per request, which on a small machine is most of the pipeline's headroom.
    """

    PATHS = (LEAD_PATH, BATCH_PATH)

    def __init__(self, app: ASGIApp, capture: Capture) -> None:
        self.app = app
        self.capture = capture

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.capture.rt.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            reply = counted("api", replies.invalid("body", f"larger than {limit} bytes",
                                                   status=413))
        else:
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
                more = message.get("more_body", False)
            if size > limit:
                reply = counted("api", replies.invalid("body", f"larger than {limit} bytes",
                                                   status=413))
            else:
                try:
                    reply = await self.capture.post(scope["path"], headers, b"".join(chunks))
                except Exception:
                    log.exception("capture failed on %s", scope["path"])
                    reply = replies.internal_error()
        body = orjson.dumps(reply.body)
        raw_headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


ACTIVITIES_PATH = "/v1/activities"


async def accept_activities(capture: Capture, headers: Mapping[str, str], body: bytes) -> Reply:
    """`POST /v1/activities`: validate every activity, find each one's lead and person,
    publish `activity.recorded` on `leads.activity` (acks=all), then answer 202. All or
    nothing: one invalid activity refuses the request, naming it."""
    provider = "activities"
    read = capture.read_json(provider, headers, body)
    if isinstance(read, Reply):
        return read
    payload = read[1]
    many = isinstance(payload, dict) and "activities" in payload
    items = payload["activities"] if many else [payload]
    if not isinstance(items, list) or not items or len(items) > MAX_PER_REQUEST:
        return counted(provider, replies.invalid(
            "activities", f"must be a list of 1 to {MAX_PER_REQUEST} activities"))
    now = capture.rt.now()
    try:
        activities = [read_activity(doc, now, f"activities[{i}]." if many else "")
                      for i, doc in enumerate(items)]
    except InvalidLeadError as bad:
        return counted(provider, replies.invalid(bad.field, bad.reason))
    try:
        persons = await capture.receipts.persons_of(
            sorted({a.lead_id for a in activities if a.lead_id}))
        latest = await capture.receipts.latest_leads(
            sorted({a.person_key for a in activities if a.person_key}))
    except RetryableError:
        return counted(provider, replies.unavailable("database unavailable; retry later"))
    out: list[Outgoing] = []
    results = []
    for i, activity in enumerate(activities):
        where = f"activities[{i}]." if many else ""
        lead_id: str | None
        person: str | None
        if activity.lead_id is not None:
            lead_id, person = activity.lead_id, persons.get(activity.lead_id)
            missing = f"{where}lead_id"
        else:
            person, lead_id = activity.person_key, latest.get(activity.person_key or "")
            missing = f"{where}email" if items[i].get("email") is not None else f"{where}phone"
        if lead_id is None or person is None:
            return counted(provider, replies.not_found(missing, "no lead captured for it"))
        event_id = activity.event_id(person)
        data = {"lead_id": lead_id, "person_key": person,
                "activity": {"type": activity.type, "at": activity.at.isoformat(),
                             "props": activity.props}}
        out.append(Outgoing(topics.ACTIVITY, person, make_event(
            "activity.recorded", SERVICE, data, event_id=event_id, at=now)))
        results.append({"lead_id": lead_id, "event_id": event_id})
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await capture.rt.publisher.publish(out)
    except (TimeoutError, RetryableError, BrokerError) as exc:
        log.warning("broker did not acknowledge %d activities: %r", len(out), exc)
        return counted(provider, replies.unavailable("broker unavailable; retry later"))
    replies.count(provider, "accepted", len(out))
    return Reply(202, {"status": "accepted", "accepted": len(out), "results": results})


class BatchIn(BaseModel):
    leads: list[dict[str, Any]]


def build_router(capture: Capture) -> APIRouter:
    router = APIRouter(tags=["capture"])

    async def raw(request: Request) -> JSONResponse:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        return (await capture.post(request.url.path, headers, body)).response()

    @router.post(
        LEAD_PATH, status_code=202, response_model=Accepted,
        responses={200: {"description": "a repeat of a lead already accepted"},
                   401: {}, 413: {}, 415: {}, 422: {}, 503: {}},
        summary="Submit a lead (JSON)",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "description": "A lead in DESIGN.md's shape or "
                       "with flat form names (email, phone, full_name, company, ...)"}}}}},
    )
    async def post_lead(
        request: Request,
        # Read by Capture.post from the raw headers; declared here for the OpenAPI page.
        _idempotency_key: Annotated[str | None, Header(alias="idempotency-key",
                                                       max_length=255)] = None,
    ) -> JSONResponse:
        return await raw(request)

    @router.post(
        BATCH_PATH, summary="Submit up to 1000 leads in one request",
        responses={401: {}, 413: {}, 415: {}, 422: {}, 503: {}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": BatchIn.model_json_schema()}}}},
    )
    async def post_batch(request: Request) -> JSONResponse:
        return await raw(request)

    @router.post(
        ACTIVITIES_PATH, status_code=202, summary="Record activities of known leads",
        description="One activity, or `{\"activities\": [...]}` (up to 1000): `lead_id`, "
                    "or `email`/`phone` for the person's latest lead; `type` "
                    "(pricing_page_visit, webinar_attended, ...); `at` (RFC 3339, default "
                    "now); `props`; optional `id` (the sender's id, for retries). Published "
                    "as `activity.recorded` on `leads.activity`; score re-scores the lead.",
        responses={401: {}, 404: {}, 413: {}, 415: {}, 422: {}, 503: {}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object"}}}}},
    )
    async def post_activities(request: Request) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return (await accept_activities(capture, headers, await request.body())).response()

    return router
