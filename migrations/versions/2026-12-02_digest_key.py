"""outbox: an index of the scanner's digests, by unit and key prefix

Revision ID: 0016_digest_key
Revises: 0015_plan_generation
Create Date: 2026-12-02

A full pass writes `notice.digest` events (notifier/scan.py); every later pass asks whether a
notice's digest was ever written (a key prefix) and, where one was, whether an assignment's unit
has one that counted it in (the unit and the key prefix). Partial: digests only, a small part of
the outbox; `text_pattern_ops` on PostgreSQL so that a LIKE prefix is a range whatever the
database's collation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_digest_key"
down_revision: str | None = "0015_plan_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIGESTS = sa.text("type = 'notice.digest'")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_event_digest_unit_key",
        "outbox_event",
        ["unit_id", "dedupe_key"],
        postgresql_ops={"dedupe_key": "text_pattern_ops"},
        postgresql_where=DIGESTS,
        sqlite_where=DIGESTS,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_event_digest_unit_key", table_name="outbox_event")
