"""Route's SLA ladder, sticky owners and notifications: reminder times on each SLA timer
and how many were sent (the next is due at `warn_ats[warnings + 1]`, indexed), a
`rejected` state for a clock a rep's rejection stopped, an index on each assignment's
person key (a returning person finds the rep who holds them), and an outbox of team
notifications sent after the decision commits.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE route.sla_timers DROP CONSTRAINT sla_timers_state_check;
ALTER TABLE route.sla_timers ADD CONSTRAINT sla_timers_state_check
    CHECK (state IN ('open', 'met', 'breached', 'superseded', 'rejected'));
ALTER TABLE route.sla_timers ADD COLUMN warn_ats timestamptz[] NOT NULL DEFAULT '{}';
ALTER TABLE route.sla_timers ADD COLUMN warnings int NOT NULL DEFAULT 0;
CREATE INDEX sla_timers_warn ON route.sla_timers ((warn_ats[warnings + 1]))
    WHERE state = 'open';
CREATE INDEX assignments_person
    ON route.assignments ((event -> 'data' ->> 'person_key'), assigned_at DESC)
    WHERE rep_id IS NOT NULL;
CREATE TABLE route.notifications (
    id          bigserial PRIMARY KEY,
    dedupe      text NOT NULL UNIQUE,
    team_id     text NOT NULL,
    kind        text NOT NULL,
    lead_id     uuid NOT NULL,
    payload     json NOT NULL,
    created_at  timestamptz NOT NULL,
    next_at     timestamptz NOT NULL,
    attempts    int NOT NULL DEFAULT 0,
    state       text NOT NULL DEFAULT 'pending',
    last_error  text,
    sent_at     timestamptz
);
CREATE INDEX notifications_due ON route.notifications (next_at) WHERE state = 'pending'
"""

DOWNGRADE = """
DROP TABLE route.notifications;
DROP INDEX route.assignments_person;
DROP INDEX route.sla_timers_warn;
ALTER TABLE route.sla_timers DROP COLUMN warnings;
ALTER TABLE route.sla_timers DROP COLUMN warn_ats;
UPDATE route.sla_timers SET state = 'superseded' WHERE state = 'rejected';
ALTER TABLE route.sla_timers DROP CONSTRAINT sla_timers_state_check;
ALTER TABLE route.sla_timers ADD CONSTRAINT sla_timers_state_check
    CHECK (state IN ('open', 'met', 'breached', 'superseded'))
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE.split(";\n"):
        op.execute(statement)
