"""one write path: per-entity audit chains, row versions on bulletins, assessments and scoring rules

Revision ID: 0006_write_path
Revises: 0005_due_sort
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_write_path"
down_revision: str | None = "0005_due_sort"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCKED = ("bulletin", "scoring_rule", "assessment")


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        # Existing entries stay on the first wave's global chain (scheme 1).
        batch_op.add_column(sa.Column("scheme", sa.Integer(), nullable=False, server_default="1"))
        batch_op.drop_index("ix_audit_entry_entity")
        batch_op.create_index("ix_audit_entry_entity", ["entity_type", "entity_id", "id"], unique=False)
        batch_op.create_unique_constraint(
            "uq_audit_entry_entity_type_entity_id_prev_hash", ["entity_type", "entity_id", "prev_hash"]
        )
    for table in _LOCKED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("row_version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    for table in _LOCKED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("row_version")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_entry_entity_type_entity_id_prev_hash", type_="unique")
        batch_op.drop_index("ix_audit_entry_entity")
        batch_op.create_index("ix_audit_entry_entity", ["entity_type", "entity_id"], unique=False)
        batch_op.drop_column("scheme")
