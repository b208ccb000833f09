"""The accept path every lead source over HTTP shares (provider webhooks, plain HTML
forms, CSV imports): the org file in force, then each submission mapped (`mapping`),
validated (`intake`) and accepted through `Capture` (receipt with the raw body, publish,
acknowledgement), its result added to the request's `Outcome`.

Anything the sender's bytes can cause is a 4xx; a 503 (with Retry-After) means "deliver
again later" and is only ever about capture's own dependencies: the broker, the
database, a provider's API, or a secret not yet set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from services.capture import replies
from services.capture.api import Capture
from services.capture.intake import InvalidLeadError, lead_from_payload
from services.capture.mapping import (
    Mapping_,
    Submission,
    payload_from_submission,
    sender_field,
)
from services.capture.replies import RefusedError, Reply, count
from services.capture.store import Delivery
from shared.errors import RetryableError
from shared.lead import Lead
from shared.org import OrgFile


def unavailable(provider: str, reason: str) -> RefusedError:
    """A request deferred for capture's own sake (a dependency, a setting), counted."""
    return replies.refused(provider, replies.unavailable(reason, field_="service"))


class Outcome:
    """Per-lead results of one request, and the reply they add up to."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.results: list[dict[str, Any]] = []
        self.errors: list[dict[str, str]] = []
        self.retry: list[str] = []
        self.ignored = 0

    def invalid(self, where: str, field_: str, reason: str, **extra: Any) -> None:
        count(self.provider, "invalid")
        path = f"{where}.{field_}" if where and field_ else (where or field_)
        error = {"field": path, "reason": reason, **extra}
        self.errors.append(error)
        self.results.append({"status": "invalid", **error})

    def unavailable(self, where: str, reason: str, *, counted: bool = False) -> None:
        if not counted:
            count(self.provider, "unavailable")
        self.retry.append(f"{where}: {reason}" if where else reason)
        self.results.append({"status": "unavailable", "field": where, "reason": reason})

    def accepted(self, where: str, reply: Reply) -> None:
        """A lead `Capture.accept_leads` answered (and counted): accepted, duplicate, 503."""
        if reply.status == 503:
            self.unavailable(where, str(reply.body.get("reason")), counted=True)
        else:
            self.results.append({**({"field": where} if where else {}), **reply.body})

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r["status"] == s)
                for s in ("accepted", "duplicate", "invalid", "unavailable")}

    def reply(self, success: Callable[[dict[str, Any]], Reply] | None = None, *,
              invalid_is_success: bool = False) -> Reply:
        body: dict[str, Any] = {"results": self.results, **self.counts()}
        if self.ignored:
            body["ignored"] = self.ignored
        if self.retry:
            return replies.unavailable("; ".join(self.retry[:5]), extra=body)
        if self.errors and not invalid_is_success:
            return replies.invalid_leads(self.errors, body)
        return success(body) if success else Reply(200, body)


class Sources:
    """The steps the source endpoints share, over one `Capture`."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.rt = capture.rt
        self.settings = capture.rt.settings

    async def org(self, provider: str) -> OrgFile | None:
        """The org file in force (None before one is applied); 503 without the database."""
        try:
            return await self.rt.org.current()
        except RetryableError as exc:
            if "no org file" in str(exc):
                return None
            raise unavailable(provider, "database unavailable; retry later") from None

    async def accept(self, outcome: Outcome, subs: list[Submission],
                     mappings: Callable[[Submission], list[Mapping_]],
                     delivery: Delivery | None, *, delivery_id: str | None = None,
                     columns: bool = False, lenient: bool = True,
                     now: datetime | None = None) -> None:
        """Map (the org file's `mappings` for each submission), validate and accept
        submissions, adding each one's result to `outcome`. Webhooks and imports are
        `lenient`: their senders cannot correct a lead, so an unparseable phone beside a
        good email is kept, not fatal; a person at a form can, and is told."""
        now = now or self.rt.now()
        leads: list[Lead] = []
        payloads: list[bytes] = []
        ids: list[str | None] = []
        wheres: list[str] = []
        for sub in subs:
            payload, origin = payload_from_submission(sub, mappings(sub), columns=columns)
            payload["source"].setdefault("provider", sub.provider)
            payload["source"].setdefault("channel", sub.channel)
            try:
                lead = lead_from_payload(payload, provider=sub.provider, channel=sub.channel,
                                         now=now, sender_id=sub.sender_id, lenient=lenient)
            except InvalidLeadError as bad:
                extra = {"row": int(sub.where[4:])} if sub.where.startswith("row ") else {}
                outcome.invalid(sub.where, sender_field(origin, bad.field) or bad.field,
                                bad.reason, **extra)
                continue
            leads.append(lead)
            payloads.append(orjson.dumps(payload))
            ids.append(sub.sender_id)
            wheres.append(sub.where)
        if not leads:
            return
        answers = await self.capture.accept_leads(
            leads, outcome.provider, payloads=payloads, sender_ids=ids, delivery=delivery,
            delivery_id=delivery_id)
        for where, reply in zip(wheres, answers, strict=True):
            outcome.accepted(where, reply)
