"""Team notifications: a Slack-compatible incoming-webhook message on assignment, SLA
reminder and breach, per team (`teams[].notify` in the org file).

Never in the way of routing: a decision only writes the message to `route.notifications`
in its own transaction (so a message exists exactly when its decision committed); the
sender loop here posts it afterwards with httpx, retries with backoff, and gives up after
`MAX_ATTEMPTS` (by default), recording the last error. A slow or failing webhook delays
nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timedelta

import httpx

from services.route import store
from shared import db, metrics
from shared.backoff import backoff_delay
from shared.lead import AssignmentData, LeadData
from shared.org import OrgFile
from shared.service import Runtime, drain_until_stopped

log = logging.getLogger("leadflow.route.notify")

MAX_ATTEMPTS = 8
LEASE_S = 60.0
BATCH = 50
TIMEOUT_S = 5.0

_HEADLINES = {
    "assigned": "New {temperature} lead for {rep}",
    "warning": "Reminder: {temperature} lead for {rep} is due {due}",
    "breached": "SLA breached: {temperature} lead for {rep} was due {due}",
}


def notification(org: OrgFile, kind: str, lead: LeadData, assignment: AssignmentData,
                 at: datetime, *, due_at: str | None = None, step: int | None = None
                 ) -> store.Notification | None:
    """The message for a team that asked for `kind`, or None."""
    team = org.team(assignment.get("team_id") or "")
    if team is None or team.notify is None or kind not in team.notify.on:
        return None
    rep = org.rep(assignment.get("rep_id") or "")
    sla = assignment.get("sla")
    temperature = ((lead.get("score") or {}).get("temperature")
                   or (sla["temperature"] if sla else ""))
    due = due_at or (sla["due_at"] if sla else None)
    headline = _HEADLINES[kind].format(
        temperature=temperature, rep=(rep.name or rep.id) if rep else assignment.get("rep_id"),
        due=due or "-")
    contact = lead.get("contact") or {}
    company = lead.get("company") or {}
    person = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    who = ", ".join(p for p in (
        person or contact.get("email") or contact.get("phone") or "",
        (lead.get("title") or {}).get("raw") or "",
        company.get("name") or company.get("domain") or "") if p)
    where = f"lead `{lead['lead_id']}` · team {team.id} · attempt {assignment.get('attempt', 1)}"
    lines = [f"*{headline}*", who, where]
    if contact.get("email"):
        lines.append(f"email {contact['email']}")
    if contact.get("phone"):
        lines.append(f"phone {contact['phone']}")
    text = "\n".join(line for line in lines if line)
    suffix = f":{step}" if step is not None else ""
    return store.Notification(
        dedupe=f"{lead['lead_id']}:{assignment.get('attempt', 1)}:{kind}{suffix}",
        team_id=team.id, kind=kind, lead_id=lead["lead_id"], at=at,
        payload={"text": text, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}}]})


def webhook_url(org: OrgFile, team_id: str) -> str | None:
    team = org.team(team_id)
    if team is None or team.notify is None:
        return None
    if team.notify.webhook_url is not None:
        return team.notify.webhook_url
    return os.environ.get(team.notify.webhook_url_env or "") or None


RETRY_START_S = 2.0
RETRY_MAX_S = 600.0


async def send_due(rt: Runtime, client: httpx.AsyncClient, now: datetime, *,
                   max_attempts: int = MAX_ATTEMPTS) -> int:
    """Lease due messages, post them concurrently, record each outcome: sent, failed
    after `max_attempts`, or pending again after the shared backoff (2 s after the first
    failure, doubling, at most 10 minutes, jittered)."""
    async with db.transaction(rt.engine) as conn:
        leased = await store.lease_notifications(conn, now, LEASE_S, BATCH)
        org = await rt.org.current(conn) if leased else None
    if not leased or org is None:
        return 0

    async def post(row: store.Leased) -> tuple[store.Leased, str | None]:
        url = webhook_url(org, row.team_id)
        if url is None:
            return row, "no webhook URL (team no longer notifies, or its variable is unset)"
        try:
            reply = await client.post(url, json=row.payload, timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            return row, f"{type(exc).__name__}: {exc}"[:500]
        if reply.status_code >= 300:
            return row, f"HTTP {reply.status_code}: {reply.text[:200]}"
        return row, None

    results = await asyncio.gather(*(post(row) for row in leased))
    done_at = rt.now()
    async with db.transaction(rt.engine) as conn:
        for row, error in results:
            if error is None:
                state, retry = "sent", None
            elif row.attempts >= max_attempts:
                state, retry = "failed", None
                log.warning("notification %s for team %s given up after %d attempts: %s",
                            row.id, row.team_id, row.attempts, error)
            else:
                delay = backoff_delay(row.attempts, RETRY_START_S, RETRY_MAX_S)
                state, retry = "pending", done_at + timedelta(seconds=delay)
            await store.finish_notification(conn, row.id, state, done_at, error, retry)
            metrics.NOTIFICATIONS.labels(row.team_id, row.kind,
                                         "retried" if state == "pending" else state).inc()
    return len(leased)


async def run_notifier(rt: Runtime, stop: asyncio.Event,
                       transport: httpx.AsyncBaseTransport | None = None) -> None:
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        await drain_until_stopped(stop, "notifications", rt.settings.sla_tick_s,
                                  lambda: send_due(rt, client, rt.now()), BATCH,
                                  transient=(OSError,))
