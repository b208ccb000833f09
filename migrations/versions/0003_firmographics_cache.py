"""Enrich's cache of firmographics answers from an HTTP provider, with their expiry.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE enrich.firmographics_cache (
    domain      text PRIMARY KEY,
    provider    text NOT NULL,
    found       boolean NOT NULL,
    data        json NOT NULL,
    fetched_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
)""")


def downgrade() -> None:
    op.execute("DROP TABLE enrich.firmographics_cache")
