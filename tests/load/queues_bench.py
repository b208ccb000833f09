"""`make bench`'s queue phases, on the running `leadflow up` stack:

- **Morning backlog**: an org file whose `enterprise` team opens about a minute from now
  (its own time zone set so the opening is 12:00 local time, on today's weekday); 5,000
  hot enterprise leads posted before it opens wait in `enterprise-unassigned`; from the
  opening, how long until route has dealt them all (each a `lead.reassigned` read back
  from `leads.routed`), while new leads for another team arrive at a steady rate, with
  their speed-to-lead before the opening and during the drain.
- **The lead list on 1,000,000 assignments**: route's tables seeded with a million
  leads (a mix of rep-held, met, breached, overdue, nurture and queued, over a year),
  then `GET /v1/leads` under each single filter, a page deep through the cursor, and
  `GET /v1/queues`, timed over HTTP: p50 and p95 of each.

Environment: BENCH_BACKLOG (5000), BENCH_BACKLOG_RATE (50 new leads/s), BENCH_LIST_ROWS
(1000000), BENCH_LIST_REQUESTS (40 per filter).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from sqlalchemy import text

BACKLOG = int(os.environ.get("BENCH_BACKLOG", "5000"))
BACKLOG_RATE = float(os.environ.get("BENCH_BACKLOG_RATE", "50"))
LIST_ROWS = int(os.environ.get("BENCH_LIST_ROWS", "1000000"))
LIST_REQUESTS = int(os.environ.get("BENCH_LIST_REQUESTS", "40"))
ROOT = Path(__file__).resolve().parents[2]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def opening_org(data_dir: Path, opening: datetime) -> Path:
    """The demo org with every team open all hours except enterprise, which opens at
    `opening` (12:00 in a fixed-offset zone chosen for it) and stays open to midnight."""
    document = yaml.safe_load((ROOT / "deploy" / "demo" / "org.yaml").read_text())
    offset = 12 - opening.hour  # -11 … +12: a valid Etc/GMT zone (whose sign is inverted)
    local = opening + timedelta(hours=offset)
    for team in document["teams"]:
        team["outside_hours"] = "assign"
        if team["id"] == "enterprise":
            team.pop("holidays", None)
            team.update(outside_hours="queue",
                        timezone=f"Etc/GMT{-offset:+d}" if offset else "UTC",
                        hours={DAYS[local.weekday()]: f"12:{opening.minute:02d}-24:00"})
    path = data_dir / "org-opening.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def backlog_body(run: str, i: int) -> bytes:
    return orjson.dumps({
        "email": f"vp{i}@{run}-big{i % 499}.example", "job_title": "VP Sales", "country": "US",
        "company": {"name": f"Big {i % 499}", "employees": 800, "industry": "software"},
        "activities": [{"type": "demo_request", "at": "2026-11-20T10:00:00Z"}]})


def newcomer_body(run: str, i: int) -> bytes:
    return orjson.dumps({
        "email": f"mid{i}@{run}-mid{i % 211}.example", "job_title": "Director of Sales",
        "country": "GB", "company": {"name": f"Mid {i % 211}", "employees": 120},
        "activities": [{"type": "demo_request", "at": "2026-11-20T10:00:00Z"}]})


def database_url(stack: Any) -> str:
    from leadflow.embedded import read_stack

    return str(read_stack(stack.data_dir)["database_url"])


async def apply_file(stack: Any, path: Path) -> None:
    from shared.db import create_engine
    from shared.orgstore import apply_org

    engine = create_engine(database_url(stack), pool_size=1)
    try:
        await apply_org(engine, path)
    finally:
        await engine.dispose()


async def morning_backlog(stack: Any, reader: Any, send_all: Any, batches_of: Any,
                          pct: Any) -> None:
    # Closed for the next hour while the backlog arrives; then it opens at the next
    # whole minute at least 20 s away (new leads are timed before it too).
    await apply_file(stack, opening_org(stack.data_dir, datetime.now(UTC) + timedelta(hours=1)))
    run = f"q{int(time.time())}"
    bodies = [backlog_body(run, i) for i in range(BACKLOG)]
    await send_all(stack.capture_port, batches_of(bodies, 100), None, "/v1/leads/batch", 8)
    deadline = time.monotonic() + 300

    def ours() -> set[str]:
        return {i for i in reader.seen if f"@{run}-big" in reader.emails.get(i, "")}

    while len(ours()) < BACKLOG and time.monotonic() < deadline:
        await reader.wait_for({"-"}, 1)
    backlog_ids = ours()
    opening = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
    if (opening - datetime.now(UTC)).total_seconds() < 20:
        opening += timedelta(minutes=1)
    await apply_file(stack, opening_org(stack.data_dir, opening))
    queued_s = (opening - datetime.now(UTC)).total_seconds()
    print(f"morning backlog:           {len(backlog_ids)}/{BACKLOG} hot leads queued "
          f"overnight; enterprise opens in {queued_s:.0f}s", flush=True)
    reader.seen.clear()

    # New leads for another team arrive all along: before the opening and during the drain.
    before_n = max(1, int(BACKLOG_RATE * max(5.0, queued_s - 2)))
    during_n = int(BACKLOG_RATE * 60)
    newcomers = [newcomer_body(run, i) for i in range(before_n + during_n)]
    sender = asyncio.create_task(send_all(stack.capture_port, newcomers, BACKLOG_RATE))
    opening_ts = opening.timestamp()
    deadline = time.monotonic() + queued_s + 180
    while (len(reader.dealt.keys() & backlog_ids) < len(backlog_ids)
           and time.monotonic() < deadline):
        await reader.wait_for({"-"}, 1)
    await sender
    await reader.wait_for({"-"}, 3)
    dealt = [reader.dealt[i] for i in backlog_ids if i in reader.dealt]
    last = max(dealt, default=float("nan"))
    first = min(dealt, default=float("nan"))
    new = {i: v for i, v in reader.seen.items() if f"@{run}-mid" in reader.emails.get(i, "")}
    new_before = [s for s, at in new.values() if at < opening_ts]
    new_during = [s for s, at in new.values() if opening_ts <= at <= last + 1]
    print(f"  dealt {len(dealt)}/{len(backlog_ids)}: first {first - opening_ts:.1f}s, "
          f"last {last - opening_ts:.1f}s after the opening "
          f"({len(dealt) / max(last - first, 1e-6):.0f} leads/s)")
    print(f"  new leads at {BACKLOG_RATE:.0f}/s, speed-to-lead before the opening "
          f"p50 {pct(new_before, 50) * 1000:.0f} ms p99 {pct(new_before, 99) * 1000:.0f} ms "
          f"({len(new_before)}); during the drain p50 {pct(new_during, 50) * 1000:.0f} ms "
          f"p99 {pct(new_during, 99) * 1000:.0f} ms ({len(new_during)})", flush=True)
    reader.seen.clear()
    reader.dealt.clear()


SEED = """
WITH s AS (
    SELECT g, CAST(md5('bench-list' || g) AS uuid) AS id,
           CASE WHEN g % 100 < 60 THEN 'rep' WHEN g % 100 < 90 THEN 'nurture'
                ELSE 'queue' END AS kind,
           CASE WHEN g % 100 < 60 THEN 'rep' || ((g / 7) % 50) END AS rep,
           CASE WHEN g % 100 < 60 OR g % 100 >= 90 THEN 'team' || (g % 5) END AS team,
           CASE WHEN g % 100 BETWEEN 60 AND 89 THEN 'newsletter' END AS track,
           CASE WHEN g % 100 >= 90 THEN (ARRAY['bench-desk', 'bench-partners',
                'unrouted'])[1 + g % 3] END AS q,
           now() - make_interval(secs => g * 30) AS at
    FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g
), a AS (
    INSERT INTO route.assignments (lead_id, attempt, kind, rep_id, team_id, track, queue,
        org_version, event_id, assigned_at, decision, event)
    SELECT id, 1, kind, rep, team, track, q, 'bench', id, at, '{}'::json,
           json_build_object('data', json_build_object('lead_id', id,
               'contact', json_build_object('email', 'p' || g || '@bench-list.example',
                                            'first_name', 'Pat', 'last_name', 'Lee'),
               'company', json_build_object('name', 'Company ' || (g % 5000))))
    FROM s
)
INSERT INTO route.leads (lead_id, attempt, state, kind, rep_id, team_id, queue, track,
    temperature, points, provider, utm_source, received_at, assigned_at, due_at, touched_at)
SELECT id, 1,
       CASE WHEN kind = 'queue' THEN 'queued' WHEN kind = 'nurture' THEN 'nurture'
            WHEN g % 100 < 40 THEN 'met' WHEN g % 100 < 50 THEN 'breached' ELSE 'open' END,
       kind, rep, team, q, track, (ARRAY['hot', 'warm', 'cold'])[1 + g % 3],
       g % 100, (ARRAY['api', 'facebook', 'google_ads', 'linkedin', 'typeform', 'hubspot',
                      'webflow', 'unbounce'])[1 + g % 8],
       (ARRAY['google', 'newsletter', 'linkedin', NULL])[1 + g % 4],
       at - interval '2 seconds', at,
       CASE WHEN kind = 'rep' THEN CASE WHEN g % 100 < 50 OR g % 100 >= 55
            THEN at + interval '5 minutes' ELSE now() + interval '1 hour' END END,
       CASE WHEN g % 100 < 50 THEN at + interval '3 minutes' END
FROM s
"""


async def seed_list(database_url: str, rows: int) -> float:
    from shared.db import create_engine

    engine = create_engine(database_url, pool_size=1)
    started = time.monotonic()
    try:
        step = 100_000
        for lo in range(1, rows + 1, step):
            hi = min(rows, lo + step - 1)
            async with engine.begin() as conn:
                await conn.execute(text(SEED), {"lo": lo, "hi": hi})
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE route.leads"))
            await conn.execute(text("ANALYZE route.assignments"))
    finally:
        await engine.dispose()
    return time.monotonic() - started


async def lead_list(stack: Any, pct: Any) -> None:
    seeded_s = await seed_list(database_url(stack), LIST_ROWS)
    port = int(stack.env["LEADFLOW_ROUTE_PORT"])
    headers = {"Authorization": f"Bearer {stack.env['LEADFLOW_ADMIN_KEY']}"}
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    filters: list[tuple[str, dict[str, str]]] = [
        ("no filter", {}),
        *[(f"status={s}", {"status": s})
          for s in ("queued", "open", "overdue", "met", "breached", "nurture")],
        ("queue=bench-desk", {"queue": "bench-desk"}),
        ("team=team3", {"team": "team3"}), ("rep=rep7", {"rep": "rep7"}),
        ("temperature=hot", {"temperature": "hot"}), ("source=facebook", {"source": "facebook"}),
        ("since=1 day ago", {"since": since}),
        ("rep=rep7&status=open", {"rep": "rep7", "status": "open"}),
    ]
    print(f"lead list on {LIST_ROWS:,} assignments (seeded in {seeded_s:.0f}s), "
          f"{LIST_REQUESTS} requests each, 50 per page, over HTTP:", flush=True)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers,
                                 timeout=30) as client:
        for name, params in filters:
            times, cursor = [], None
            for i in range(LIST_REQUESTS):
                query = {**params, "limit": "50"}
                if cursor and i % 4:  # every fourth request starts again at page one
                    query["cursor"] = cursor
                started = time.perf_counter()
                response = await client.get("/v1/leads", params=query)
                times.append(time.perf_counter() - started)
                response.raise_for_status()
                cursor = response.json()["next_cursor"]
            print(f"  {name:<24} p50 {pct(times, 50) * 1000:6.1f} ms  "
                  f"p95 {pct(times, 95) * 1000:6.1f} ms", flush=True)
        times = []
        for _ in range(10):
            started = time.perf_counter()
            (await client.get("/v1/queues")).raise_for_status()
            times.append(time.perf_counter() - started)
        print(f"  {'GET /v1/queues':<24} p50 {pct(times, 50) * 1000:6.1f} ms  "
              f"p95 {pct(times, 95) * 1000:6.1f} ms", flush=True)
