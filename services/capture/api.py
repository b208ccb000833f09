"""Capture's HTTP surface: verify, validate, publish, answer (DESIGN.md section 7).

Capture stays thin: no enrichment in the request. It answers 2xx only after the broker
has acknowledged `lead.captured`; with the broker or database down it answers 503 with
Retry-After, and the sender's retry finds the receipt and completes the publish.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.capture.intake import InvalidLead, lead_from_payload
from services.capture.store import Receipt, ReceiptStore
from shared import metrics, topics
from shared.auth import bearer_ok
from shared.errors import RetryableError
from shared.events import Outgoing, make_event
from shared.service import Runtime

log = logging.getLogger("leadflow.capture")

PUBLISH_TIMEOUT_S = 5.0
RETRY_AFTER_S = "5"
SERVICE = "capture"


class Accepted(BaseModel):
    lead_id: str
    status: str


def _unavailable(provider: str, why: str) -> JSONResponse:
    metrics.LEADS_RECEIVED.labels(provider, "unavailable").inc()
    return JSONResponse({"error": "unavailable", "reason": why}, status_code=503,
                        headers={"Retry-After": RETRY_AFTER_S})


def _invalid(provider: str, field: str, reason: str, status: int = 422) -> JSONResponse:
    metrics.LEADS_RECEIVED.labels(provider, "invalid").inc()
    return JSONResponse({"error": "invalid lead", "errors": [{"field": field, "reason": reason}]},
                        status_code=status)


class Capture:
    """Accepts one lead: receipt, publish (acked), mark published."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.receipts = ReceiptStore(rt.engine)

    async def accept(self, payload: Any, *, provider: str, channel: str,
                     sender_id: str | None) -> JSONResponse:
        try:
            lead = lead_from_payload(payload, provider=provider, channel=channel,
                                     now=self.rt.now(), sender_id=sender_id)
        except InvalidLead as bad:
            return _invalid(provider, bad.field, bad.reason)
        try:
            state = await self.receipts.record(Receipt(
                lead.lead_id, provider, sender_id, lead.person_key, lead.received_at))
        except RetryableError as exc:
            log.warning("receipt not written: %s", exc)
            return _unavailable(provider, "database unavailable; retry later")
        if state.published:
            metrics.LEADS_RECEIVED.labels(provider, "duplicate").inc()
            return JSONResponse({"lead_id": lead.lead_id, "status": "duplicate"}, status_code=200)
        # A redelivery after a failed publish keeps the first acceptance time.
        lead.received_at = state.received_at
        lead.timings.received_at = state.received_at
        event = make_event("lead.captured", SERVICE, lead.model_dump(mode="json"))
        try:
            await asyncio.wait_for(
                self.rt.publisher.publish([Outgoing(topics.CAPTURED, lead.person_key, event)]),
                PUBLISH_TIMEOUT_S,
            )
        except (TimeoutError, RetryableError) as exc:
            log.warning("broker did not acknowledge lead %s: %r", lead.lead_id, exc)
            return _unavailable(provider, "broker unavailable; retry later")
        try:
            await self.receipts.mark_published(lead.lead_id)
        except RetryableError as exc:
            # The event is out; a retry will publish it once more (same lead_id, so the
            # pipeline treats it as the same lead). Accepting is right.
            log.warning("receipt not marked published for %s: %s", lead.lead_id, exc)
        metrics.LEADS_RECEIVED.labels(provider, "accepted").inc()
        return JSONResponse({"lead_id": lead.lead_id, "status": "accepted"}, status_code=202)


def build_router(rt: Runtime, capture: Capture) -> APIRouter:
    router = APIRouter(tags=["capture"])
    max_bytes = rt.settings.max_body_bytes

    @router.post(
        "/v1/leads",
        status_code=202,
        response_model=Accepted,
        responses={200: {"description": "a repeat of a lead already accepted"},
                   401: {}, 413: {}, 415: {}, 422: {}, 503: {}},
        summary="Submit a lead (JSON)",
    )
    async def post_lead(
        request: Request,
        idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    ) -> JSONResponse:
        provider = "api"
        if not bearer_ok(request, rt.settings.api_key):
            metrics.LEADS_RECEIVED.labels(provider, "unauthorized").inc()
            return JSONResponse(
                {"error": "unauthorized",
                 "reason": "missing or wrong key in Authorization: Bearer <key>"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype != "application/json" and not ctype.endswith("+json"):
            return _invalid(provider, "content-type", f"{ctype} is not application/json", 415)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes:
            return _invalid(provider, "body", f"larger than {max_bytes} bytes", 413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                return _invalid(provider, "body", f"larger than {max_bytes} bytes", 413)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _invalid(provider, "body", f"not valid JSON: {exc}")
        key = idempotency_key.strip() if idempotency_key else None
        return await capture.accept(payload, provider=provider, channel="api", sender_id=key)

    return router
