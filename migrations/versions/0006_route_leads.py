"""Route's current state per lead, for queues and worklists: one row per lead with its
current assignment (the highest attempt), where it waits or who holds it, its SLA due
time and whether the clock was met, breached or touched; indexed for the list endpoint
(newest first under any single filter, and a rep's open worklist) and for dealing each
queue oldest first (`leads_queue`: a lead has a queue only while it waits in one) or
hottest first. An assignment decided outside the consume loop (dealt, claimed, moved by
hand) is committed before its event is published: `unpublished_since` marks it until the
broker has it, and a sweep publishes what a crash or an outage left behind.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE route.leads (
    lead_id      uuid PRIMARY KEY,
    attempt      integer NOT NULL,
    state        text NOT NULL,
    kind         text NOT NULL,
    rep_id       text,
    team_id      text,
    queue        text,
    track        text,
    temperature  text,
    points       integer,
    provider     text,
    utm_source   text,
    received_at  timestamptz NOT NULL,
    assigned_at  timestamptz NOT NULL,
    due_at       timestamptz,
    touched_at   timestamptz,
    CHECK (state IN ('queued', 'nurture', 'open', 'met', 'breached'))
);
INSERT INTO route.leads (lead_id, attempt, state, kind, rep_id, team_id, queue, track,
                         temperature, points, provider, utm_source, received_at,
                         assigned_at, due_at, touched_at)
SELECT DISTINCT ON (a.lead_id) a.lead_id, a.attempt,
       CASE WHEN a.kind = 'queue' THEN 'queued' WHEN a.kind = 'nurture' THEN 'nurture'
            WHEN t.state IN ('met', 'breached') THEN t.state ELSE 'open' END,
       a.kind, a.rep_id, a.team_id, a.queue, a.track,
       a.event -> 'data' -> 'score' ->> 'temperature',
       CAST(CAST(a.event -> 'data' -> 'score' ->> 'points' AS numeric) AS integer),
       a.event -> 'data' -> 'source' ->> 'provider',
       a.event -> 'data' -> 'source' ->> 'utm_source',
       CAST(a.event -> 'data' ->> 'received_at' AS timestamptz), a.assigned_at,
       t.due_at,
       (SELECT min(j.at) FROM route.journey j
        WHERE j.lead_id = a.lead_id AND j.step = 'touched' AND j.at >= a.assigned_at)
FROM route.assignments a
LEFT JOIN route.sla_timers t ON t.lead_id = a.lead_id AND t.attempt = a.attempt
ORDER BY a.lead_id, a.attempt DESC;
CREATE INDEX leads_newest ON route.leads (assigned_at DESC, lead_id DESC);
CREATE INDEX leads_state ON route.leads (state, assigned_at DESC, lead_id DESC);
CREATE INDEX leads_rep ON route.leads (rep_id, assigned_at DESC, lead_id DESC)
    WHERE rep_id IS NOT NULL;
CREATE INDEX leads_team ON route.leads (team_id, assigned_at DESC, lead_id DESC)
    WHERE team_id IS NOT NULL;
CREATE INDEX leads_queue ON route.leads (queue, assigned_at DESC, lead_id DESC)
    WHERE queue IS NOT NULL;
CREATE INDEX leads_temperature ON route.leads (temperature, assigned_at DESC, lead_id DESC);
CREATE INDEX leads_provider ON route.leads (provider, assigned_at DESC, lead_id DESC);
CREATE INDEX leads_unworked ON route.leads (assigned_at DESC, lead_id DESC)
    WHERE touched_at IS NULL AND state IN ('open', 'breached');
CREATE INDEX leads_rep_open ON route.leads (rep_id, assigned_at DESC, lead_id DESC)
    WHERE state = 'open';
CREATE INDEX leads_hottest ON route.leads (queue,
    (CASE temperature WHEN 'hot' THEN 0 WHEN 'warm' THEN 1 WHEN 'cold' THEN 2 ELSE 3 END),
    (coalesce(points, 0)) DESC, assigned_at, lead_id)
    WHERE state = 'queued';
UPDATE route.sla_timers t SET state = 'superseded', closed_at = now()
FROM route.leads l
WHERE l.lead_id = t.lead_id AND t.state = 'open' AND t.attempt < l.attempt;
ALTER TABLE route.assignments ADD COLUMN unpublished_since timestamptz;
CREATE INDEX assignments_unpublished ON route.assignments (unpublished_since)
    WHERE unpublished_since IS NOT NULL
"""

DOWNGRADE = """
DROP INDEX route.assignments_unpublished;
ALTER TABLE route.assignments DROP COLUMN unpublished_since;
DROP TABLE route.leads
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE.split(";\n"):
        op.execute(statement)
