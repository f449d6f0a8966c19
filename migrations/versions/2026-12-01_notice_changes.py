"""incremental reminder scans: changes go to an append-only notice_change table, not a mark on assignment

Revision ID: 0013_notice_changes
Revises: 0012_notice_marks
Create Date: 2026-12-01

0012 kept a mark column on assignment. Claiming and clearing it rewrote every changed row of the
widest table (12 indexes, every update non-HOT): 18 of a county first pass's 21 s after a bulk
load, and 2 × 5 M row updates at province scale, with every claimed row locked against the api
for the length of the pass. Here a trigger appends (assignment_id) rows instead; a pass claims and
deletes those narrow rows, and writers only insert, so they never wait on a scan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_notice_changes"
down_revision: str | None = "0012_notice_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What reminders of an assignment depend on (as in 0012).
WATCHED = ("due_date", "state", "overdue_from", "plan_id", "unit_id", "assigned_at")
CHANGED_PG = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
CHANGED_SQLITE = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)

PG = [
    # Inserts once per statement, from its transition table: a bulk insert (publication, import,
    # COPY) appends its ids in one INSERT … SELECT.
    """CREATE FUNCTION duban_notice_change_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO notice_change (assignment_id) SELECT id FROM new_rows; RETURN NULL; END $$""",
    """CREATE TRIGGER assignment_notice_change_insert AFTER INSERT ON assignment
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION duban_notice_change_inserted()""",
    """CREATE FUNCTION duban_notice_change_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO notice_change (assignment_id) VALUES (NEW.id); RETURN NULL; END $$""",
    f"""CREATE TRIGGER assignment_notice_change_update AFTER UPDATE ON assignment
    FOR EACH ROW WHEN ({CHANGED_PG}) EXECUTE FUNCTION duban_notice_change_updated()""",
    """CREATE FUNCTION duban_notice_change_report() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN INSERT INTO notice_change (assignment_id) VALUES (OLD.assignment_id); END IF;
      IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.assignment_id IS DISTINCT FROM OLD.assignment_id) THEN
        INSERT INTO notice_change (assignment_id) VALUES (NEW.assignment_id);
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER report_notice_change AFTER INSERT OR DELETE OR UPDATE OF state, period, assignment_id
    ON progress_report FOR EACH ROW EXECUTE FUNCTION duban_notice_change_report()""",
]
SQLITE = [
    """CREATE TRIGGER assignment_notice_change_insert AFTER INSERT ON assignment
    BEGIN INSERT INTO notice_change (assignment_id) VALUES (NEW.id); END""",
    f"""CREATE TRIGGER assignment_notice_change_update AFTER UPDATE OF {", ".join(WATCHED)} ON assignment
    WHEN {CHANGED_SQLITE}
    BEGIN INSERT INTO notice_change (assignment_id) VALUES (NEW.id); END""",
    """CREATE TRIGGER report_notice_change_insert AFTER INSERT ON progress_report
    BEGIN INSERT INTO notice_change (assignment_id) VALUES (NEW.assignment_id); END""",
    """CREATE TRIGGER report_notice_change_update
    AFTER UPDATE OF state, period, assignment_id ON progress_report
    BEGIN
      INSERT INTO notice_change (assignment_id) VALUES (OLD.assignment_id);
      INSERT INTO notice_change (assignment_id)
      SELECT NEW.assignment_id WHERE NEW.assignment_id IS NOT OLD.assignment_id;
    END""",
    """CREATE TRIGGER report_notice_change_delete AFTER DELETE ON progress_report
    BEGIN INSERT INTO notice_change (assignment_id) VALUES (OLD.assignment_id); END""",
]
SQLITE_NAMES = [
    "assignment_notice_change_insert",
    "assignment_notice_change_update",
    "report_notice_change_insert",
    "report_notice_change_update",
    "report_notice_change_delete",
]

# 0012's triggers, dropped here and restored by the downgrade.
OLD_PG = [
    """CREATE FUNCTION duban_assignment_notice_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.notice_mark := 0; RETURN NEW; END $$""",
    f"""CREATE TRIGGER assignment_notice_mark BEFORE INSERT OR UPDATE OF {", ".join(WATCHED)} ON assignment
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
OLD_SQLITE = [
    """CREATE TRIGGER assignment_notice_mark_insert AFTER INSERT ON assignment
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER assignment_notice_mark_update AFTER UPDATE OF {", ".join(WATCHED)} ON assignment
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = NEW.id; END""",
    """CREATE TRIGGER report_notice_mark_insert AFTER INSERT ON progress_report
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = NEW.assignment_id; END""",
    """CREATE TRIGGER report_notice_mark_update
    AFTER UPDATE OF state, period, assignment_id ON progress_report
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id IN (OLD.assignment_id, NEW.assignment_id); END""",
    """CREATE TRIGGER report_notice_mark_delete AFTER DELETE ON progress_report
    BEGIN UPDATE assignment SET notice_mark = 0 WHERE id = OLD.assignment_id; END""",
]
OLD_SQLITE_NAMES = [
    "assignment_notice_mark_insert",
    "assignment_notice_mark_update",
    "report_notice_mark_insert",
    "report_notice_mark_update",
    "report_notice_mark_delete",
]


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "notice_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("claim", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_change")),
    )
    op.create_index("ix_notice_change_claim_assignment_id", "notice_change", ["claim", "assignment_id"])
    if pg:
        op.execute("DROP TRIGGER IF EXISTS report_notice_mark ON progress_report")
        op.execute("DROP TRIGGER IF EXISTS assignment_notice_mark ON assignment")
        op.execute("DROP FUNCTION IF EXISTS duban_report_notice_mark()")
        op.execute("DROP FUNCTION IF EXISTS duban_assignment_notice_mark()")
    else:
        for name in OLD_SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # What changed since the last pass is still to be looked at.
    op.execute(
        "INSERT INTO notice_change (assignment_id) SELECT id FROM assignment WHERE notice_mark IS NOT NULL"
    )
    # Plain ALTERs (no batch copy on SQLite), as in 0012: an expression index batch mode can't reflect.
    op.drop_index(op.f("ix_assignment_notice_mark"), table_name="assignment")
    op.drop_column("assignment", "notice_mark")
    for statement in PG if pg else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER IF EXISTS report_notice_change ON progress_report")
        op.execute("DROP TRIGGER IF EXISTS assignment_notice_change_update ON assignment")
        op.execute("DROP TRIGGER IF EXISTS assignment_notice_change_insert ON assignment")
        op.execute("DROP FUNCTION IF EXISTS duban_notice_change_report()")
        op.execute("DROP FUNCTION IF EXISTS duban_notice_change_updated()")
        op.execute("DROP FUNCTION IF EXISTS duban_notice_change_inserted()")
    else:
        for name in SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.add_column("assignment", sa.Column("notice_mark", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_assignment_notice_mark"), "assignment", ["notice_mark"])
    op.execute("UPDATE assignment SET notice_mark = 0 WHERE id IN (SELECT assignment_id FROM notice_change)")
    for statement in OLD_PG if pg else OLD_SQLITE:
        op.execute(statement)
    op.drop_table("notice_change")
