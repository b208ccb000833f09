"""Tracing and replaying an accepted lead from capture's receipts (`leadflow capture`).

`trace` shows what capture kept: the receipt (when accepted, when published, how many
deliveries), the payload it validated, and the raw body of every delivery that carried
the lead, within LEADFLOW_DELIVERY_RETENTION. `replay` rebuilds the lead from that
payload and publishes `lead.captured` again with the same lead id and event id, so every
stage treats it as a redelivery of the same lead (idempotent), e.g. after a broker lost
its topics.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.capture.api import captured_event
from services.capture.intake import InvalidLeadError, lead_from_payload
from services.capture.store import ReceiptStore
from shared import db, kafka
from shared.errors import ConfigError
from shared.lead import Lead
from shared.loop import Publisher
from shared.settings import Settings


async def trace(settings: Settings, lead_id: str) -> dict[str, Any]:
    try:
        lead_id = str(uuid.UUID(lead_id))
    except ValueError:
        raise ConfigError(f"{lead_id!r} is not a lead id (a UUID)") from None
    engine = db.create_engine(settings.database_url, pool_size=1)
    try:
        found = await ReceiptStore(engine).trace(lead_id)
    finally:
        await engine.dispose()
    if found is None:
        raise ConfigError(f"no receipt for lead {lead_id}: capture never accepted it")
    return found


def rebuild(receipt: dict[str, Any]) -> Lead:
    """The lead as capture built it, from the payload kept in its receipt."""
    payload = receipt.get("payload")
    if payload is None:
        raise ConfigError(f"lead {receipt['lead_id']}: its payload is past the retention "
                          "(LEADFLOW_DELIVERY_RETENTION); nothing to replay")
    provider = receipt["provider"]
    source = payload.get("source") if isinstance(payload.get("source"), dict) else {}
    try:
        lead = lead_from_payload(payload, provider=provider,
                                 channel=source.get("channel", "api"),
                                 now=receipt["received_at"],
                                 sender_id=receipt["idempotency_key"],
                                 lenient=provider not in ("api", "form"))
    except InvalidLeadError as bad:
        raise ConfigError(f"lead {receipt['lead_id']}: stored payload no longer valid: "
                          f"{bad.field}: {bad.reason}") from None
    if lead.lead_id != receipt["lead_id"]:
        raise ConfigError(f"lead {receipt['lead_id']}: the stored payload rebuilds as "
                          f"{lead.lead_id}; not replayed")
    return lead


async def replay(settings: Settings, lead_id: str) -> Lead:
    lead = rebuild(await trace(settings, lead_id))
    producer = kafka.make_producer(settings)
    await kafka.start_client(producer)
    try:
        await Publisher(producer, settings).publish([captured_event(lead)])
    finally:
        await producer.stop()
    return lead
