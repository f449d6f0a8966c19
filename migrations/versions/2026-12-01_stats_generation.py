"""stats cache check: a change counter per assignment, kept by triggers on assignment and progress_report

Revision ID: 0014_stats_generation
Revises: 0013_notice_changes
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_stats_generation"
down_revision: str | None = "0013_notice_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the live figures (api.stats.service) read of an assignment; tests/api/test_stats_cache.py
# checks the statements read nothing else. Any write of these counts, whoever writes.
WATCHED = (
    "plan_id, section_id, task_id, unit_id, state, due_date, due_at, original_due_date, overdue_from, "
    "completed_at, percent_done, extension_count"
)
# ... and of a progress report (joined on its assignment, this period's, submitted or approved).
REPORT_WATCHED = "assignment_id, period, state"

PG = [
    """CREATE FUNCTION duban_stats_bump(p integer, a integer, s integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO stats_generation AS g (plan_id, assignment_id, source, generation) VALUES (p, a, s, 1)
    ON CONFLICT (plan_id, assignment_id, source) DO UPDATE SET generation = g.generation + 1 $$""",
    """CREATE FUNCTION duban_assignment_stats() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN PERFORM duban_stats_bump(OLD.plan_id, OLD.id, 0); END IF;
      IF TG_OP = 'INSERT'
         OR (TG_OP = 'UPDATE' AND (NEW.plan_id, NEW.id) IS DISTINCT FROM (OLD.plan_id, OLD.id))
      THEN PERFORM duban_stats_bump(NEW.plan_id, NEW.id, 0); END IF;
      RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER assignment_stats AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} ON assignment
    FOR EACH ROW EXECUTE FUNCTION duban_assignment_stats()""",
    # A report's writes count on a row of their own (source 1): a review writes the report, then the
    # assignment, and an assignment's writes lock its row, then its source-0 counter; sharing one
    # counter row would lock in both orders.
    """CREATE FUNCTION duban_report_stats() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        PERFORM duban_stats_bump(a.plan_id, a.id, 1) FROM assignment a WHERE a.id = OLD.assignment_id;
      END IF;
      IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.assignment_id <> OLD.assignment_id) THEN
        PERFORM duban_stats_bump(a.plan_id, a.id, 1) FROM assignment a WHERE a.id = NEW.assignment_id;
      END IF;
      RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER report_stats AFTER INSERT OR DELETE OR UPDATE OF {REPORT_WATCHED}
    ON progress_report FOR EACH ROW EXECUTE FUNCTION duban_report_stats()""",
]


def _bump_sqlite(plan: str, assignment: str, where: str = "") -> str:
    return (
        "INSERT INTO stats_generation (plan_id, assignment_id, source, generation) "
        f"SELECT {plan}, {assignment}, 0, 1 "
        f"WHERE {where or 'true'} "
        "ON CONFLICT (plan_id, assignment_id, source) DO UPDATE SET generation = generation + 1;"
    )


def _bump_report_sqlite(assignment_id: str, where: str = "true") -> str:
    # (A WHERE before ON CONFLICT: SQLite's documented way to parse an upsert from a SELECT.)
    return (
        "INSERT INTO stats_generation (plan_id, assignment_id, source, generation) SELECT plan_id, id, 1, 1 "
        f"FROM assignment WHERE id = {assignment_id} AND {where} "
        "ON CONFLICT (plan_id, assignment_id, source) DO UPDATE SET generation = generation + 1;"
    )


SQLITE = [
    f"""CREATE TRIGGER assignment_stats_insert AFTER INSERT ON assignment
    BEGIN {_bump_sqlite("NEW.plan_id", "NEW.id")} END""",
    f"""CREATE TRIGGER assignment_stats_update AFTER UPDATE OF {WATCHED} ON assignment
    BEGIN {_bump_sqlite("OLD.plan_id", "OLD.id")}
    {_bump_sqlite("NEW.plan_id", "NEW.id", "NEW.plan_id IS NOT OLD.plan_id OR NEW.id IS NOT OLD.id")} END""",
    f"""CREATE TRIGGER assignment_stats_delete AFTER DELETE ON assignment
    BEGIN {_bump_sqlite("OLD.plan_id", "OLD.id")} END""",
    f"""CREATE TRIGGER report_stats_insert AFTER INSERT ON progress_report
    BEGIN {_bump_report_sqlite("NEW.assignment_id")} END""",
    f"""CREATE TRIGGER report_stats_update AFTER UPDATE OF {REPORT_WATCHED} ON progress_report
    BEGIN {_bump_report_sqlite("OLD.assignment_id")}
    {_bump_report_sqlite("NEW.assignment_id", "NEW.assignment_id IS NOT OLD.assignment_id")} END""",
    f"""CREATE TRIGGER report_stats_delete AFTER DELETE ON progress_report
    BEGIN {_bump_report_sqlite("OLD.assignment_id")} END""",
]
SQLITE_TRIGGERS = [
    "assignment_stats_insert",
    "assignment_stats_update",
    "assignment_stats_delete",
    "report_stats_insert",
    "report_stats_update",
    "report_stats_delete",
]


def upgrade() -> None:
    # No backfill: a plan's sum starts at 0 and only grows; an assignment's row appears at its first change.
    op.create_table(
        "stats_generation",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "assignment_id", "source", name=op.f("pk_stats_generation")),
    )
    for statement in PG if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS report_stats ON progress_report")
        op.execute("DROP TRIGGER IF EXISTS assignment_stats ON assignment")
        op.execute("DROP FUNCTION IF EXISTS duban_report_stats()")
        op.execute("DROP FUNCTION IF EXISTS duban_assignment_stats()")
        op.execute("DROP FUNCTION IF EXISTS duban_stats_bump(integer, integer, integer)")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("stats_generation")
