"""Capture's deliveries: the raw body of every accepted delivery, for tracing and replay.

A delivery is one request a sender made (a webhook, a form post, an import, an API call);
it may carry several leads and a lead may arrive in several deliveries (a sender's
retries), so deliveries name their leads in `lead_ids`. Each receipt keeps the lead's
mapped payload (what capture validated), so a lead can be replayed without the sender.
Bodies and payloads are dropped after `LEADFLOW_DELIVERY_RETENTION`; receipts stay, so a
redelivery however late is still answered as a duplicate.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE capture.deliveries (
    id            uuid PRIMARY KEY,
    provider      text NOT NULL,
    received_at   timestamptz NOT NULL,
    content_type  text,
    body          bytea NOT NULL,
    fetched       json,
    lead_ids      uuid[] NOT NULL
);
CREATE INDEX deliveries_received_at ON capture.deliveries (received_at);
CREATE INDEX deliveries_lead_ids ON capture.deliveries USING gin (lead_ids);
ALTER TABLE capture.receipts ADD COLUMN payload json;
ALTER TABLE capture.receipts ADD COLUMN delivery_id uuid
"""

DOWNGRADE = """
ALTER TABLE capture.receipts DROP COLUMN delivery_id;
ALTER TABLE capture.receipts DROP COLUMN payload;
DROP TABLE capture.deliveries
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE.split(";\n"):
        op.execute(statement)
