"""integration: external ids unique per service account; API key rotation and last-use address

Revision ID: 0010_integration
Revises: 0011_webhooks
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_integration"
down_revision: str | None = "0011_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Existing external ids were globally unique and set without a source: they stay in the
# people's namespace (external_source_id NULL), unique there by the partial index.
_TABLES = ("assignment", "plan", "task", "unit", "user_account")
_UNSOURCED = sa.text("external_source_id IS NULL")
# SQLite rebuilds a table in batch mode from its reflection, which cannot see the expression
# index on assignment: drop it around the rebuild and create it again.
_DUE_SORT = [sa.text("coalesce(due_date, '9999-12-31')"), "id"]


def upgrade() -> None:
    op.drop_index("ix_assignment_due_sort", table_name="assignment")
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_source_id", sa.Integer(), nullable=True))
            batch_op.drop_constraint(f"uq_{table}_external_id", type_="unique")
            batch_op.create_index(
                f"uq_{table}_external_id_unsourced",
                ["external_id"],
                unique=True,
                sqlite_where=_UNSOURCED,
                postgresql_where=_UNSOURCED,
            )
            batch_op.create_unique_constraint(
                f"uq_{table}_external_source_id_external_id", ["external_source_id", "external_id"]
            )
    op.create_index("ix_assignment_due_sort", "assignment", _DUE_SORT, unique=False)

    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rotated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("last_used_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("last_used_address")
        batch_op.drop_column("rotated_at")

    # Ids of different accounts may coincide; only the people's namespace survives a downgrade.
    for table in _TABLES:
        op.execute(f"UPDATE {table} SET external_id = NULL WHERE external_source_id IS NOT NULL")
    op.drop_index("ix_assignment_due_sort", table_name="assignment")
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_external_source_id_external_id", type_="unique")
            batch_op.drop_index(f"uq_{table}_external_id_unsourced")
            batch_op.create_unique_constraint(f"uq_{table}_external_id", ["external_id"])
            batch_op.drop_column("external_source_id")
    op.create_index("ix_assignment_due_sort", "assignment", _DUE_SORT, unique=False)
