"""Activities after capture: capture finds a person's latest lead by person key; score keeps
each person's activity profile (the latest scored lead and every activity) to re-score
when the person acts again.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE INDEX receipts_person ON capture.receipts (person_key, received_at DESC);
CREATE TABLE score.profiles (
    person_key  text PRIMARY KEY,
    lead        json,
    activities  json NOT NULL DEFAULT '[]'::json,
    updated_at  timestamptz NOT NULL
)
"""

DOWNGRADE = """
DROP TABLE score.profiles;
DROP INDEX capture.receipts_person
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE.split(";\n"):
        op.execute(statement)
