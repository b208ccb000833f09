"""Assignments route decides outside the consume loop (a queued lead dealt, claimed or
moved by hand) are committed first and published after: the stored row holds the exact
event, marked `unpublished_since` until the broker acknowledges it. A crash or a broker
outage in between leaves the mark; `sweep` publishes those events again, the same bytes
with the same id and the same assignment, once they are older than `GRACE_S` (the live
path normally clears the mark within milliseconds). The decision never waits on the
broker and is never made twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from services.route import store
from shared import db, metrics, topics
from shared.errors import BrokerError, PermanentError, RetryableError
from shared.events import Outgoing, event_from_dict
from shared.service import Runtime

log = logging.getLogger("leadflow.route")
GRACE_S = 10.0
PUBLISH_TIMEOUT_S = 10.0
SWEEP_LIMIT = 200


async def publish_committed(rt: Runtime, out: list[Outgoing], keys: list[tuple[str, int]]
                            ) -> bool:
    """Publish committed assignments' events and clear their marks; False when the broker
    did not take them in time (the sweep will)."""
    if not out:
        return True
    try:
        await asyncio.wait_for(rt.publisher.publish(out), PUBLISH_TIMEOUT_S)
    except (RetryableError, BrokerError, PermanentError, TimeoutError) as exc:
        log.warning("%d assignment event(s) not published yet (%s); the outbox sweep "
                    "will publish them", len(out), exc)
        return False
    try:
        async with db.transaction(rt.engine) as conn:
            await store.mark_published(conn, keys)
    except RetryableError as exc:  # published all the same; the sweep sends them again
        log.warning("published %d assignment event(s) but could not clear their marks: %s",
                    len(out), exc)
    return True


async def sweep(rt: Runtime, now: datetime) -> int:
    """Publish assignment events a crash or an outage left unpublished; returns how many.
    An event the broker refuses outright (not a transient fault) stays marked, logged,
    without holding up the others; `leadflow_outbox_oldest_age_seconds` shows it."""
    async with db.transaction(rt.engine) as conn:
        oldest = await store.oldest_unpublished(conn)
        metrics.OUTBOX_OLDEST_AGE.set(0 if oldest is None
                                      else max(0.0, (now - oldest).total_seconds()))
        pending = await store.claim_unpublished(conn, now - timedelta(seconds=GRACE_S),
                                                SWEEP_LIMIT)
        if not pending:
            return 0
        out = {(p.lead_id, p.attempt): _outgoing(p) for p in pending}
        try:
            await asyncio.wait_for(rt.publisher.publish(list(out.values())), PUBLISH_TIMEOUT_S)
            done = list(out)
        except (BrokerError, PermanentError):
            done = []
            for key, one in out.items():  # find the one the broker refuses
                try:
                    await asyncio.wait_for(rt.publisher.publish([one]), PUBLISH_TIMEOUT_S)
                    done.append(key)
                except (BrokerError, PermanentError) as exc:
                    log.error("outbox: the broker refuses the event of lead %s attempt %d: "
                              "%s", key[0], key[1], exc)
        await store.mark_published(conn, done)
    log.info("outbox: published %d assignment event(s) left unpublished", len(done))
    return len(done)


def _outgoing(p: store.Unpublished) -> Outgoing:
    event = event_from_dict(p.event)
    return Outgoing(topics.ROUTED, str(event.data["person_key"]), event)
