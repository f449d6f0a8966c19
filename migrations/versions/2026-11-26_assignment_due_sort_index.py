"""index for the default assignment list order

Revision ID: 0005_due_sort
Revises: 0004_reports
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_due_sort"
down_revision: str | None = "0004_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_assignment_due_sort",
        "assignment",
        [sa.text("coalesce(due_date, '9999-12-31')"), "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_assignment_due_sort", table_name="assignment")
