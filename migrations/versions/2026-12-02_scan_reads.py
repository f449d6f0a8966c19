"""assignment, progress_report: indexes the scanner's reads are answered from alone

Revision ID: 0017_scan_reads
Revises: 0016_digest_key
Create Date: 2026-12-02

A full reminder pass reads, for every notice, the open assignments in a deadline range (or of the
plans with a report period) and the reports of one period. At province scale (5 M assignments,
4.3 M reports) both were heap reads: the assignments' pages behind a lossy bitmap, every report
page by a sequential scan. Now:

- `ix_assignment_state_due_date` carries the columns those reads select and filter on besides its
  keys (PostgreSQL's INCLUDE), so they are index-only scans; same keys, so no plan that used it
  loses it, and no column an update of the api's hot writes changes is added (签收 already
  rewrites its entries: `state` is a key).
- `ix_progress_report_period_state` (period, state, assignment_id): a period's submitted reports
  as an index range. It replaces `ix_progress_report_assignment_id`, which the unique
  (assignment_id, period) key already serves as its prefix: the table keeps its number of indexes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_scan_reads"
down_revision: str | None = "0016_digest_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCAN_COLUMNS = ["id", "unit_id", "plan_id", "overdue_from", "assigned_at"]


def upgrade() -> None:
    op.drop_index("ix_assignment_state_due_date", table_name="assignment")
    op.create_index(
        "ix_assignment_state_due_date", "assignment", ["state", "due_date"], postgresql_include=SCAN_COLUMNS
    )
    op.drop_index("ix_progress_report_assignment_id", table_name="progress_report")
    op.create_index(
        "ix_progress_report_period_state", "progress_report", ["period", "state", "assignment_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_progress_report_period_state", table_name="progress_report")
    op.create_index("ix_progress_report_assignment_id", "progress_report", ["assignment_id"])
    op.drop_index("ix_assignment_state_due_date", table_name="assignment")
    op.create_index("ix_assignment_state_due_date", "assignment", ["state", "due_date"])
