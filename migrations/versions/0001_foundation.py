"""Foundation: one schema per service, plus the applied org files.

Documents (leads, events, decision records) are `json`, not `jsonb`: each is written once
per lead on the hot path and read back whole; nothing queries inside them, and `json`
(validated text) costs the database far less to write than building `jsonb`.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE SCHEMA IF NOT EXISTS org;
CREATE TABLE org.versions (
    id          bigserial PRIMARY KEY,
    version     text NOT NULL,
    filename    text NOT NULL,
    body        json NOT NULL,
    source_yaml text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE SCHEMA IF NOT EXISTS capture;
CREATE TABLE capture.receipts (
    lead_id         uuid PRIMARY KEY,
    provider        text NOT NULL,
    idempotency_key text,
    person_key      text NOT NULL,
    received_at     timestamptz NOT NULL,
    published_at    timestamptz,
    deliveries      integer NOT NULL DEFAULT 1
);

CREATE SCHEMA IF NOT EXISTS enrich;
CREATE TABLE enrich.persons (
    person_key     text PRIMARY KEY,
    first_lead_id  uuid NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_lead_id   uuid NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    first_source   json NOT NULL,
    profile        json NOT NULL
);
CREATE TABLE enrich.person_leads (
    lead_id     uuid PRIMARY KEY,
    person_key  text NOT NULL REFERENCES enrich.persons(person_key),
    seen_at     timestamptz NOT NULL
);
CREATE TABLE enrich.accounts (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    owner_rep_id  text,
    segment       text,
    attributes    json NOT NULL DEFAULT '{}'::json,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE enrich.account_domains (
    domain      text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES enrich.accounts(id) ON DELETE CASCADE
);

CREATE SCHEMA IF NOT EXISTS score;
CREATE TABLE score.scores (
    lead_id      uuid PRIMARY KEY,
    person_key   text NOT NULL,
    points       integer NOT NULL,
    temperature  text NOT NULL,
    stage        text NOT NULL,
    reasons      json NOT NULL,
    model        text NOT NULL,
    scored_at    timestamptz NOT NULL
);

CREATE SCHEMA IF NOT EXISTS route;
CREATE TABLE route.assignments (
    lead_id      uuid NOT NULL,
    attempt      integer NOT NULL,
    kind         text NOT NULL,
    rep_id       text,
    team_id      text,
    track        text,
    queue        text,
    rule         text,
    reason       text,
    strategy     text,
    org_version  text NOT NULL,
    event_id     uuid NOT NULL,
    assigned_at  timestamptz NOT NULL,
    decision     json NOT NULL DEFAULT '{}'::json,
    event        json NOT NULL,
    PRIMARY KEY (lead_id, attempt)
);
CREATE INDEX assignments_rep ON route.assignments (rep_id) WHERE rep_id IS NOT NULL;
CREATE TABLE route.rotations (
    team_id      text PRIMARY KEY,
    last_rep_id  text,
    turns        bigint NOT NULL DEFAULT 0,
    state        json NOT NULL DEFAULT '{}'::json,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE route.reps (
    rep_id      text PRIMARY KEY,
    available   boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE route.sla_timers (
    lead_id      uuid NOT NULL,
    attempt      integer NOT NULL,
    rep_id       text NOT NULL,
    team_id      text NOT NULL,
    temperature  text NOT NULL,
    clock        text NOT NULL,
    started_at   timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'open',
    closed_at    timestamptz,
    PRIMARY KEY (lead_id, attempt),
    CHECK (state IN ('open', 'met', 'breached', 'superseded'))
);
CREATE INDEX sla_timers_due ON route.sla_timers (due_at) WHERE state = 'open';
CREATE TABLE route.journey (
    id       bigserial PRIMARY KEY,
    lead_id  uuid NOT NULL,
    at       timestamptz NOT NULL,
    step     text NOT NULL,
    detail   json NOT NULL DEFAULT '{}'::json,
    dedupe   text NOT NULL UNIQUE
);
CREATE INDEX journey_lead ON route.journey (lead_id, at);
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS route CASCADE;
DROP SCHEMA IF EXISTS score CASCADE;
DROP SCHEMA IF EXISTS enrich CASCADE;
DROP SCHEMA IF EXISTS capture CASCADE;
DROP SCHEMA IF EXISTS org CASCADE;
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)
