"""Capture's receipts (`capture.receipts`): which leads were accepted and published.

A receipt is written before the event is published and marked published after the
broker's acknowledgement, so a retried delivery of a lead whose publish never completed
is published again, and one whose publish completed is answered as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db
from shared.batcher import Batcher

PURGE_BATCH = 5000  # rows per retention statement: short transactions, no long locks


@dataclass(frozen=True, eq=False)
class Delivery:
    """One request a sender made, kept for tracing and replay."""

    id: str
    provider: str
    received_at: datetime
    content_type: str | None
    body: bytes
    fetched: bytes | None = None  # JSON: what was fetched from the provider's API


@dataclass(frozen=True)
class Receipt:
    lead_id: str
    provider: str
    idempotency_key: str | None
    person_key: str
    received_at: datetime
    payload: bytes | None = None  # JSON: the mapped payload capture validated
    delivery: Delivery | None = None  # written with the receipt, naming its leads
    delivery_id: str | None = None  # a delivery written before (an import's file)


@dataclass(frozen=True)
class ReceiptState:
    published: bool
    received_at: datetime


_RECORD = text("""
INSERT INTO capture.receipts (lead_id, provider, idempotency_key, person_key, received_at,
                              payload, delivery_id)
SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:providers AS text[]), CAST(:keys AS text[]),
                     CAST(:persons AS text[]), CAST(:received AS timestamptz[]),
                     CAST(:payloads AS json[]), CAST(:deliveries AS uuid[]))
ON CONFLICT (lead_id) DO UPDATE SET deliveries = capture.receipts.deliveries + 1
RETURNING lead_id, published_at IS NOT NULL AS published, received_at
""")

_DELIVERIES = text("""
INSERT INTO capture.deliveries (id, provider, received_at, content_type, body, fetched,
                                lead_ids)
SELECT id, provider, received_at, content_type, body, fetched, CAST(lead_ids AS uuid[])
FROM unnest(CAST(:ids AS uuid[]), CAST(:providers AS text[]),
            CAST(:received AS timestamptz[]), CAST(:ctypes AS text[]),
            CAST(:bodies AS bytea[]), CAST(:fetched AS json[]), CAST(:leads AS text[]))
     AS d(id, provider, received_at, content_type, body, fetched, lead_ids)
ON CONFLICT (id) DO NOTHING
""")

_PUBLISHED = text("""
UPDATE capture.receipts SET published_at = now()
WHERE lead_id = ANY(CAST(:ids AS uuid[])) AND published_at IS NULL
""")


class ReceiptStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._record = Batcher(self._record_many)
        self._published = Batcher(self._mark_many)

    async def record(self, receipt: Receipt) -> ReceiptState:
        """Insert the receipt, or count a redelivery; says whether it was published."""
        return await self._record.submit(receipt)

    async def mark_published(self, lead_id: str) -> None:
        await self._published.submit(lead_id)

    async def record_many(self, receipts: list[Receipt]) -> list[ReceiptState]:
        """A batch request's receipts in one statement (no need to group callers)."""
        return await self._record_many(receipts)

    async def mark_many_published(self, lead_ids: list[str]) -> None:
        await self._mark_many(lead_ids)

    async def _record_many(self, receipts: list[Receipt]) -> list[ReceiptState]:
        # One lead may appear twice in a batch (concurrent retries); unnest + ON CONFLICT
        # cannot touch one row twice, so send each id once and share its answer.
        unique = list({r.lead_id: r for r in receipts}.values())
        deliveries: dict[str, tuple[Delivery, list[str]]] = {}
        for r in receipts:
            if r.delivery is not None:
                deliveries.setdefault(r.delivery.id, (r.delivery, []))[1].append(r.lead_id)
        async with db.transaction(self.engine) as conn:
            if deliveries:
                items = list(deliveries.values())
                await conn.execute(_DELIVERIES, {
                    "ids": [d.id for d, _ in items],
                    "providers": [d.provider for d, _ in items],
                    "received": [d.received_at for d, _ in items],
                    "ctypes": [d.content_type for d, _ in items],
                    "bodies": [d.body for d, _ in items],
                    "fetched": [d.fetched.decode() if d.fetched else None for d, _ in items],
                    "leads": ["{" + ",".join(ids) + "}" for _, ids in items],
                })
            rows = (await conn.execute(_RECORD, {
                "ids": [r.lead_id for r in unique],
                "providers": [r.provider for r in unique],
                "keys": [r.idempotency_key for r in unique],
                "persons": [r.person_key for r in unique],
                "received": [r.received_at for r in unique],
                "payloads": [r.payload.decode() if r.payload else None for r in unique],
                "deliveries": [r.delivery.id if r.delivery else r.delivery_id for r in unique],
            })).all()
        by_id = {str(row.lead_id): ReceiptState(row.published, row.received_at) for row in rows}
        return [by_id[r.lead_id] for r in receipts]

    async def _mark_many(self, lead_ids: list[str]) -> list[None]:
        async with db.transaction(self.engine) as conn:
            await conn.execute(_PUBLISHED, {"ids": list(set(lead_ids))})
        return [None] * len(lead_ids)

    async def add_delivery(self, delivery: Delivery) -> None:
        """A delivery whose leads name it by id (an import: one file, many leads)."""
        async with db.transaction(self.engine) as conn:
            await conn.execute(_DELIVERIES, {
                "ids": [delivery.id], "providers": [delivery.provider],
                "received": [delivery.received_at], "ctypes": [delivery.content_type],
                "bodies": [delivery.body],
                "fetched": [delivery.fetched.decode() if delivery.fetched else None],
                "leads": ["{}"]})

    async def persons_of(self, lead_ids: list[str]) -> dict[str, str]:
        """The person key of each accepted lead."""
        async with db.connection(self.engine) as conn:
            rows = await conn.execute(text(
                "SELECT lead_id, person_key FROM capture.receipts "
                "WHERE lead_id = ANY(CAST(:ids AS uuid[]))"), {"ids": lead_ids})
            return {str(r.lead_id): r.person_key for r in rows}

    async def latest_leads(self, person_keys: list[str]) -> dict[str, str]:
        """Each person's latest accepted lead."""
        async with db.connection(self.engine) as conn:
            rows = await conn.execute(text(
                "SELECT DISTINCT ON (person_key) person_key, lead_id FROM capture.receipts "
                "WHERE person_key = ANY(CAST(:keys AS text[])) "
                "ORDER BY person_key, received_at DESC"), {"keys": person_keys})
            return {r.person_key: str(r.lead_id) for r in rows}

    async def published(self, lead_ids: list[str]) -> set[str]:
        """Which of these leads were accepted and published already (a redelivery needs
        no second fetch from the provider's API)."""
        async with db.connection(self.engine) as conn:
            rows = await conn.execute(text(
                "SELECT lead_id FROM capture.receipts WHERE lead_id = ANY(CAST(:ids AS uuid[])) "
                "AND published_at IS NOT NULL"), {"ids": lead_ids})
            return {str(r.lead_id) for r in rows}

    async def purge(self, before: datetime, limit: int = PURGE_BATCH) -> int:
        """Drop raw bodies and payloads received before `before`; receipts stay. Returns
        how many rows it changed, up to `limit` (fewer: nothing older is left)."""
        async with db.transaction(self.engine) as conn:
            gone = (await conn.execute(text(
                "DELETE FROM capture.deliveries WHERE id IN (SELECT id FROM capture.deliveries "
                "WHERE received_at < :before LIMIT :n)"), {"before": before, "n": limit})).rowcount
            cleared = (await conn.execute(text(
                "UPDATE capture.receipts SET payload = NULL WHERE lead_id IN (SELECT lead_id "
                "FROM capture.receipts WHERE received_at < :before AND payload IS NOT NULL "
                "LIMIT :n)"), {"before": before, "n": limit})).rowcount
        return max(int(gone or 0), int(cleared or 0))

    async def trace(self, lead_id: str) -> dict[str, Any] | None:
        """A lead's receipt, mapped payload and every delivery that carried it."""
        async with db.connection(self.engine) as conn:
            receipt = (await conn.execute(text(
                "SELECT lead_id, provider, idempotency_key, person_key, received_at, "
                "published_at, deliveries, payload, delivery_id FROM capture.receipts "
                "WHERE lead_id = CAST(:id AS uuid)"), {"id": lead_id})).mappings().first()
            if receipt is None:
                return None
            rows = (await conn.execute(text(
                "SELECT id, provider, received_at, content_type, body, fetched "
                "FROM capture.deliveries WHERE lead_ids @> ARRAY[CAST(:id AS uuid)] "
                "OR id = CAST(:d AS uuid) ORDER BY received_at"),
                {"id": lead_id, "d": receipt["delivery_id"]})).mappings().all()
        return {**dict(receipt), "lead_id": str(receipt["lead_id"]),
                "delivery_list": [dict(r) | {"id": str(r["id"])} for r in rows]}
