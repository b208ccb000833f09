"""Capture's receipts (`capture.receipts`): which leads were accepted and published.

A receipt is written before the event is published and marked published after the
broker's acknowledgement, so a retried delivery of a lead whose publish never completed
is published again, and one whose publish completed is answered as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db
from shared.batcher import Batcher


@dataclass(frozen=True)
class Receipt:
    lead_id: str
    provider: str
    idempotency_key: str | None
    person_key: str
    received_at: datetime


@dataclass(frozen=True)
class ReceiptState:
    published: bool
    received_at: datetime


_RECORD = text("""
INSERT INTO capture.receipts (lead_id, provider, idempotency_key, person_key, received_at)
SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:providers AS text[]), CAST(:keys AS text[]),
                     CAST(:persons AS text[]), CAST(:received AS timestamptz[]))
ON CONFLICT (lead_id) DO UPDATE SET deliveries = capture.receipts.deliveries + 1
RETURNING lead_id, published_at IS NOT NULL AS published, received_at
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
        async with db.transaction(self.engine) as conn:
            rows = (await conn.execute(_RECORD, {
                "ids": [r.lead_id for r in unique],
                "providers": [r.provider for r in unique],
                "keys": [r.idempotency_key for r in unique],
                "persons": [r.person_key for r in unique],
                "received": [r.received_at for r in unique],
            })).all()
        by_id = {str(row.lead_id): ReceiptState(row.published, row.received_at) for row in rows}
        return [by_id[r.lead_id] for r in receipts]

    async def _mark_many(self, lead_ids: list[str]) -> list[None]:
        async with db.transaction(self.engine) as conn:
            await conn.execute(_PUBLISHED, {"ids": list(set(lead_ids))})
        return [None] * len(lead_ids)
