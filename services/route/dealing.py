"""The dealing loop: leads waiting in a queue are dealt to the team that works it as soon
as one of its reps is eligible (the team opens, a rep comes back or has capacity again),
and the queue gauges are refreshed from the database.

Every `LEADFLOW_QUEUE_TICK_S` the loop reads which queues have waiting leads; for each
queue whose team has an eligible rep it takes that team's rotation lock (the one new
leads take, so dealing and routing share one fair rotation), claims a batch of the
queue's leads (`FOR UPDATE SKIP LOCKED`, so replicas and hand claims never take the same
lead), deals them through the team's strategy (`queues.deal`), commits, and then
publishes each as `lead.reassigned` (`outbox.py`: what a crash or a broker outage leaves
unpublished is published again, the same event, by the sweep each pass starts with). A
batch is small and its own transaction: new leads wait for at most one batch, never for
a whole backlog.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.route import outbox, store
from services.route.assignments import (
    Observations,
    assigned,
    db_conflict,
    needs_load_counts,
    with_sla,
)
from services.route.notify import notification
from services.route.outbox import publish_committed
from services.route.queues import Dealing, can_deal, deal, dealt_assignment, wait_record
from services.route.routing import Availability, Rotation
from shared import db, metrics
from shared.errors import BrokerError, PermanentError, RetryableError
from shared.lead import LeadData
from shared.org import OrgFile, Team
from shared.service import Runtime, drain_until_stopped

log = logging.getLogger("leadflow.route")
DEAL_BATCH = 100
SKIP_ROUNDS = 5
BACKLOG_PAUSE_S = 0.1
_gauged: set[str] = set()


async def deal_queues(rt: Runtime, now: datetime) -> int:
    """One pass: a batch from each queue a rep could now be dealt from. Returns the most
    dealt from one queue (a full batch means more may be waiting)."""
    try:
        await outbox.sweep(rt, now)
    except (RetryableError, BrokerError, PermanentError, TimeoutError) as exc:
        # The broker is still away: deal all the same; the events wait in the outbox.
        log.warning("outbox sweep: %s", exc)
    async with db.connection(rt.engine) as conn:
        org = await rt.org.current(conn)
        groups = await store.waiting_groups(conn)
        avail = await store.load_availability(conn, counts_needed=needs_load_counts(org))
    work: dict[tuple[str, str, str | None], Team] = {}
    dealable: dict[str, int] = {}
    for g in groups:
        dealer = org.dealer(g.queue, g.team_id)
        if dealer is None or not can_deal(dealer, avail, now):
            continue
        dealable[g.queue] = dealable.get(g.queue, 0) + g.depth
        # A queue the org file assigns to a team is dealt whole; a fallback queue deals
        # its own team's leads (two teams may share one fallback queue).
        from_team = None if org.queue(g.queue) is not None else g.team_id
        work[(dealer.id, g.queue, from_team)] = dealer
    refresh_gauges(org, groups, dealable, now)
    most = 0
    handled: dict[str, int] = {}
    for (_, queue, from_team), dealer in work.items():
        dealt, skipped = await deal_batch(rt, dealer.id, queue, from_team, now)
        most = max(most, dealt)
        handled[queue] = handled.get(queue, 0) + dealt + skipped
    # What is still dealable after the pass: a lead only its former reps could take is
    # not (it waits for a hand claim); a figure that stays up means dealing is stuck.
    for queue, n in dealable.items():
        metrics.QUEUE_DEALABLE.labels(queue).set(max(0, n - handled.get(queue, 0)))
    return most


async def deal_batch(rt: Runtime, team_id: str, queue: str, from_team: str | None,
                     now: datetime) -> tuple[int, int]:
    """Deal one batch of `queue` to `team_id`'s reps; returns (dealt, left queued because
    only reps who already had them were free)."""
    obs = Observations()
    waits: list[tuple[str, float]] = []
    async with db.transaction(rt.engine) as conn:
        org = await rt.org.current(conn)
        team = org.team(team_id)
        dealer = org.dealer(queue, from_team)
        if team is None or dealer is None or dealer.id != team.id:
            return 0, 0  # the org file changed since the look
        order = org.queue_order(queue, team)
        rotations = await store.lock_rotations(conn, [team.id])
        avail = await store.load_availability(conn, counts_needed=needs_load_counts(org))
        if not can_deal(team, avail, now):
            return 0, 0
        result, by_id = await _claim_and_deal(conn, team, queue, from_team, order,
                                              rotations.get(team.id) or Rotation(team.id),
                                              avail, now)
        if not result.dealt:
            return 0, len(result.skipped)
        rows, timers, journey, notes, out = [], [], [], [], []
        for d in result.dealt:
            q = by_id[d.waiting.lead_id]
            lead: LeadData = {**q.lead}
            assignment = dealt_assignment(team, d)
            timer = with_sla(assignment, lead, org, now)  # the clock starts now
            if timer is not None:
                timers.append(timer)
            wait = wait_record(d.waiting, now, q.decision, d.rep_id, team)
            lead["assignment"] = assignment
            lead["decision"] = {k: wait[k] for k in ("cause", "queue", "waited_s")} | {
                "org_version": org.version}
            record = {**wait, "previous": q.lead.get("assignment"),
                      "candidates": d.candidates, "org_version": org.version}
            made = assigned(lead, "lead.reassigned", "dealt", org, now, record,
                            {**assignment, "queue": queue, "waited_s": wait["waited_s"],
                             "why_now": wait["why_now"]["summary"]})
            rows.append(made.row)
            journey.append(made.journey)
            out.append(made.outgoing)
            note = notification(org, "assigned", lead, assignment, now)
            if note is not None:
                notes.append(note)
            obs.assignments.append((team.id, team.strategy))
            waits.append((queue, wait["waited_s"]))
        inserted = await store.insert_assignments(conn, rows, unpublished=True)
        if len(inserted) != len(rows):
            raise db_conflict(len(rows) - len(inserted))
        await store.insert_timers(conn, timers)
        if result.rotation is not None:
            await store.save_rotations(conn, [result.rotation])
        await store.add_journey(conn, journey)
        await store.queue_notifications(conn, notes)
    # Committed, then published: a broker outage or a crash here leaves the events to
    # the outbox sweep, never a second decision.
    await publish_committed(rt, out, [(r.lead_id, r.assignment["attempt"]) for r in rows])
    obs.record()
    for name, seconds in waits:
        metrics.QUEUE_WAIT.labels(name).observe(seconds)
        metrics.QUEUE_DEALT.labels(name, "dealt").inc()
    return len(result.dealt), len(result.skipped)


async def _claim_and_deal(conn: AsyncConnection, team: Team, queue: str, from_team: str | None,
                          order: str, rotation: Rotation, avail: Availability, now: datetime
                          ) -> tuple[Dealing, dict[str, store.QueuedLead]]:
    """Claim a batch and deal it. Leads only reps who already had them could take stay
    queued; the leads behind them are claimed in their place (a few rounds at most), so
    they never block the queue."""
    by_id: dict[str, store.QueuedLead] = {}
    result = Dealing(rotation=rotation)
    for _ in range(SKIP_ROUNDS):
        want = DEAL_BATCH - len(result.dealt)
        # Every lead this transaction already claimed (dealt or skipped) stays out: its
        # own row locks do not make SKIP LOCKED pass over them.
        queued = await store.claim_waiting(conn, queue, from_team, order, want, list(by_id))
        if not queued:
            break
        by_id.update((q.waiting.lead_id, q) for q in queued)
        tried = await store.reps_tried(conn, [q.waiting.lead_id for q in queued])
        assert result.rotation is not None
        step = deal(team, result.rotation, avail, now, [q.waiting for q in queued], order,
                    tried)
        result.dealt += step.dealt
        result.rotation = step.rotation
        result.skipped += step.skipped
        if step.exhausted or not step.skipped or len(queued) < want:
            break
    return result, by_id


def refresh_gauges(org: OrgFile, groups: list[store.WaitingGroup], dealable: dict[str, int],
                   now: datetime) -> None:
    """Depth, oldest age and dealable leads (before the pass deals them) of every queue
    the org file knows (0 when empty) and of any other queue with waiting leads, and
    whether a team deals it; a queue that is neither is no longer exported."""
    depth: dict[str, int] = dict.fromkeys(org.known_queues(), 0)
    dealt_by_team = {t.queue for t in org.teams} | {
        q.id for q in org.queues if q.worked_by.team is not None}
    oldest: dict[str, datetime] = {}
    for g in groups:
        depth[g.queue] = depth.get(g.queue, 0) + g.depth
        oldest[g.queue] = min(oldest.get(g.queue, g.oldest_at), g.oldest_at)
    for name, n in depth.items():
        metrics.QUEUE_DEPTH.labels(name).set(n)
        age = (now - oldest[name]).total_seconds() if name in oldest else 0.0
        metrics.QUEUE_OLDEST_AGE.labels(name).set(max(0.0, age))
        metrics.QUEUE_DEALABLE.labels(name).set(dealable.get(name, 0))
        metrics.QUEUE_DEALT_BY_TEAM.labels(name).set(1 if name in dealt_by_team else 0)
    for name in _gauged - depth.keys():
        for gauge in (metrics.QUEUE_DEPTH, metrics.QUEUE_OLDEST_AGE, metrics.QUEUE_DEALABLE,
                      metrics.QUEUE_DEALT_BY_TEAM):
            gauge.remove(name)
    _gauged.clear()
    _gauged.update(depth)


async def run_dealer(rt: Runtime, stop: asyncio.Event) -> None:
    async def work() -> int:
        dealt = await deal_queues(rt, rt.now())
        if dealt >= DEAL_BATCH:
            # A backlog: leave room between batches for the leads arriving meanwhile.
            await asyncio.sleep(BACKLOG_PAUSE_S)
        return dealt

    await drain_until_stopped(stop, "queue dealing", rt.settings.queue_tick_s, work,
                              DEAL_BATCH)
