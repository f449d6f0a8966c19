"""plans in draft until published (交办); overdue counted from a late assignment's day

Revision ID: 0009_publish
Revises: 0010_integration
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_publish"
down_revision: str | None = "0010_integration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        # Plans from before drafts existed were assigned on import: they are published.
        batch_op.add_column(
            sa.Column("state", sa.String(length=17), nullable=False, server_default="published")
        )
        batch_op.add_column(sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("supersedes_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_plan_supersedes_id_plan"), "plan", ["supersedes_id"], ["id"], ondelete="SET NULL"
        )
    op.execute("UPDATE plan SET published_at = created_at")
    # Plain ALTER (no batch copy on SQLite): the table has an expression index batch mode can't reflect.
    op.add_column("assignment", sa.Column("overdue_from", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("assignment", "overdue_from")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_plan_supersedes_id_plan"), type_="foreignkey")
        batch_op.drop_column("supersedes_id")
        batch_op.drop_column("published_at")
        batch_op.drop_column("state")
