"""incremental reminder scans: a change mark per assignment, kept by triggers; scan run mode;
a task's position found by index; plan.state fits `superseded`

Revision ID: 0012_notice_marks
Revises: 0009_publish
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_notice_marks"
down_revision: str | None = "0009_publish"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What reminders of an assignment depend on. Any write of these marks the row for the next pass,
# in the writer's transaction, whoever writes (the api, the importer, a script, psql).
WATCHED = "due_date, state, overdue_from, plan_id, unit_id, assigned_at"

PG = [
    """CREATE FUNCTION duban_assignment_notice_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.notice_mark := 0; RETURN NEW; END $$""",
    f"""CREATE TRIGGER assignment_notice_mark BEFORE INSERT OR UPDATE OF {WATCHED} ON assignment
    FOR EACH ROW EXECUTE FUNCTION duban_assignment_notice_mark()""",
    """CREATE FUNCTION duban_report_notice_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN UPDATE assignment SET notice_mark = 0 WHERE id = OLD.assignment_id; END IF;
      IF TG_OP <> 'DELETE' THEN UPDATE assignment SET notice_mark = 0 WHERE id = NEW.assignment_id; END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER report_notice_mark AFTER INSERT OR DELETE OR UPDATE OF state, period, assignment_id
    ON progress_report FOR EACH ROW EXECUTE FUNCTION duban_report_notice_mark()""",
]
SQLITE = [
    """CREATE TRIGGER assignment_notice_mark_insert AFTER INSERT ON assignment
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER assignment_notice_mark_update AFTER UPDATE OF {WATCHED} ON assignment
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = NEW.id; END""",
    """CREATE TRIGGER report_notice_mark_insert AFTER INSERT ON progress_report
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = NEW.assignment_id; END""",
    """CREATE TRIGGER report_notice_mark_update
    AFTER UPDATE OF state, period, assignment_id ON progress_report
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id IN (OLD.assignment_id, NEW.assignment_id); END""",
    """CREATE TRIGGER report_notice_mark_delete AFTER DELETE ON progress_report
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = OLD.assignment_id; END""",
]


def upgrade() -> None:
    # Plain ALTERs (no batch copy on SQLite): the table has an expression index batch mode can't reflect.
    # Backfill: NULL everywhere. Every earlier scan run has no mode, so the first pass after this is a
    # full one; from then on a row is looked at when it changes or when a cutoff passes it.
    op.add_column("assignment", sa.Column("notice_mark", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_assignment_notice_mark"), "assignment", ["notice_mark"])
    op.create_index(op.f("ix_assignment_overdue_from"), "assignment", ["overdue_from"])
    op.add_column("scan_run", sa.Column("mode", sa.String(length=12), nullable=True))
    op.add_column("scan_run", sa.Column("fingerprint", sa.String(length=64), nullable=True))
    for statement in PG if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)
    op.create_index("ix_task_plan_id_position", "task", ["plan_id", "position"])
    # PlanState gained `superseded` (18 characters with its check): the column follows the model.
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.alter_column(
            "state", existing_type=sa.String(length=17), type_=sa.String(length=18), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.alter_column(
            "state", existing_type=sa.String(length=18), type_=sa.String(length=17), existing_nullable=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS report_notice_mark ON progress_report")
        op.execute("DROP TRIGGER IF EXISTS assignment_notice_mark ON assignment")
        op.execute("DROP FUNCTION IF EXISTS duban_report_notice_mark()")
        op.execute("DROP FUNCTION IF EXISTS duban_assignment_notice_mark()")
    else:
        for name in (
            "assignment_notice_mark_insert",
            "assignment_notice_mark_update",
            "report_notice_mark_insert",
            "report_notice_mark_update",
            "report_notice_mark_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_task_plan_id_position", table_name="task")
    op.drop_column("scan_run", "fingerprint")
    op.drop_column("scan_run", "mode")
    op.drop_index(op.f("ix_assignment_overdue_from"), table_name="assignment")
    op.drop_index(op.f("ix_assignment_notice_mark"), table_name="assignment")
    op.drop_column("assignment", "notice_mark")
