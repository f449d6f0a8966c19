"""stats cache check: a few counter rows per plan, not one per assignment

Revision ID: 0015_plan_generation
Revises: 0014_stats_generation
Create Date: 2026-12-02

The check summed a plan's per-assignment counters (~4,640 rows on a county plan, 2 ms of
PostgreSQL per cached dashboard). Now a plan has a few rows (`slot`) and the check sums those.
The triggers of 0014 stay; what their bump writes changes:

- PostgreSQL: once per plan and transaction (a change that commits moves the sum by at least 1,
  and nothing else does — what the check needs; a bulk load updates one row per plan, not one
  version per row written), on a slot no other transaction holds (`FOR UPDATE SKIP LOCKED`), or
  on a new slot when all are held: a bump never waits for a lock, so it adds no lock order and
  concurrent writers of a plan do not serialize on it. A plan has as many slots as writers it
  has ever had at once.
- SQLite (one writer at a time): one row per plan (slot 0), +1 a row written.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0015_plan_generation"
down_revision: str | None = "0014_stats_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _previous() -> ModuleType:
    path = Path(__file__).with_name("2026-12-01_stats_generation.py")
    spec = importlib.util.spec_from_file_location("migration_0014_stats_generation", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (The 0014 signature, so its trigger functions call it unchanged; a and s are no longer kept.)
PG_BUMP = """CREATE OR REPLACE FUNCTION duban_stats_bump(p integer, a integer, s integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE k bigint;
BEGIN
  PERFORM 1 FROM stats_plan_generation WHERE plan_id = p AND xmin = pg_current_xact_id()::xid;
  IF FOUND THEN RETURN; END IF;
  SELECT slot INTO k FROM stats_plan_generation WHERE plan_id = p LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF FOUND THEN
    UPDATE stats_plan_generation SET generation = generation + 1 WHERE plan_id = p AND slot = k;
  ELSE
    INSERT INTO stats_plan_generation (plan_id, slot, generation)
    VALUES (p, nextval('stats_plan_generation_slot'), 1);
  END IF;
END $$"""


def _bump_sqlite(plan: str, where: str = "true") -> str:
    # (A WHERE before ON CONFLICT: SQLite's documented way to parse an upsert from a SELECT.)
    return (
        f"INSERT INTO stats_plan_generation (plan_id, slot, generation) SELECT {plan}, 0, 1 WHERE {where} "
        "ON CONFLICT (plan_id, slot) DO UPDATE SET generation = generation + 1;"
    )


def _bump_report_sqlite(assignment_id: str, where: str = "true") -> str:
    return (
        "INSERT INTO stats_plan_generation (plan_id, slot, generation) SELECT plan_id, 0, 1 "
        f"FROM assignment WHERE id = {assignment_id} AND {where} "
        "ON CONFLICT (plan_id, slot) DO UPDATE SET generation = generation + 1;"
    )


def _sqlite_triggers(watched: str, report_watched: str) -> list[str]:
    """0014's triggers (the same names and events) bumping the plan's row."""
    return [
        f"""CREATE TRIGGER assignment_stats_insert AFTER INSERT ON assignment
        BEGIN {_bump_sqlite("NEW.plan_id")} END""",
        f"""CREATE TRIGGER assignment_stats_update AFTER UPDATE OF {watched} ON assignment
        BEGIN {_bump_sqlite("OLD.plan_id")}
        {_bump_sqlite("NEW.plan_id", "NEW.plan_id IS NOT OLD.plan_id")} END""",
        f"""CREATE TRIGGER assignment_stats_delete AFTER DELETE ON assignment
        BEGIN {_bump_sqlite("OLD.plan_id")} END""",
        f"""CREATE TRIGGER report_stats_insert AFTER INSERT ON progress_report
        BEGIN {_bump_report_sqlite("NEW.assignment_id")} END""",
        f"""CREATE TRIGGER report_stats_update AFTER UPDATE OF {report_watched} ON progress_report
        BEGIN {_bump_report_sqlite("OLD.assignment_id")}
        {_bump_report_sqlite("NEW.assignment_id", "NEW.assignment_id IS NOT OLD.assignment_id")} END""",
        f"""CREATE TRIGGER report_stats_delete AFTER DELETE ON progress_report
        BEGIN {_bump_report_sqlite("OLD.assignment_id")} END""",
    ]


def upgrade() -> None:
    previous = _previous()
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "stats_plan_generation",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "slot", name=op.f("pk_stats_plan_generation")),
    )
    # Each plan's sum carries on from 0014's, so it never goes back.
    op.execute(
        "INSERT INTO stats_plan_generation (plan_id, slot, generation) "
        "SELECT plan_id, 0, sum(generation) FROM stats_generation GROUP BY plan_id"
    )
    if postgresql:
        op.execute("CREATE SEQUENCE stats_plan_generation_slot START 1")
        op.execute(PG_BUMP)
    else:
        for name in previous.SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in _sqlite_triggers(previous.WATCHED, previous.REPORT_WATCHED):
            op.execute(statement)
    op.drop_table("stats_generation")


def downgrade() -> None:
    previous = _previous()
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "stats_generation",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "assignment_id", "source", name=op.f("pk_stats_generation")),
    )
    # A plan's sum carries on (on a row of assignment 0, which no assignment has).
    op.execute(
        "INSERT INTO stats_generation (plan_id, assignment_id, source, generation) "
        "SELECT plan_id, 0, 0, sum(generation) FROM stats_plan_generation GROUP BY plan_id"
    )
    if postgresql:
        op.execute(previous.PG[0].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
        op.execute("DROP SEQUENCE stats_plan_generation_slot")
    else:
        for name in previous.SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in previous.SQLITE:
            op.execute(statement)
    op.drop_table("stats_plan_generation")
