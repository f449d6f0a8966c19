"""The past, rebuilt: assignments as they stood at an instant, from the audit chain and timestamps.

A bulletin or an assessment for a period that is over describes the period's end, not the day it
is generated. `assignments_at(at)` is a subquery with the columns of `assignment` whose rows are
the assignments that existed at `at`, each in the state, deadline and progress it had then. It is
one SELECT (no row is looked at in Python), built from what the write path leaves behind:

1. a row not written since `at` (`updated_at <= at`) is still as it was: the live row;
2. otherwise the first audited change after `at` (`duban.uow` tracks every assignment write and
   keeps its before-snapshot) holds the row as it was at `at`: state, `due_date`/`due_at`,
   `original_due_date`, `extension_count`, `percent_done`, `assigned_at` come from that snapshot
   (one index probe per changed row on `ix_audit_entry_entity`; on PostgreSQL a `LATERAL … LIMIT 1`
   that parses the snapshot once with `json_to_record`, on SQLite a correlated `min(id)`);
3. a row changed after `at` without an audit entry (data loaded outside the write path) falls back
   on its state timestamps: completed and cancelled are terminal, so `completed_at` /
   `cancelled_at` at or before `at` say it was closed then; otherwise it was open (completion
   requested, accepted or assigned by the timestamps passed).

`completed_at` and `cancelled_at` are kept only when they lie at or before `at`. An assignment
exists at `at` when it was created or assigned by then (an office that insists on a returned
assignment moves `assigned_at`, never `created_at`). What is *not* rebuilt: the section and task an
assignment belongs to (moving a task is filing, not history), and the unit (a reassignment to another
unit is a cancellation plus a new assignment, both in the history already).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel.sql.sqltypes import UTCDateTime

from duban.models import OPEN_STATES, Assignment, AssignmentState, AuditEntry

ENTITY = "assignment"
_OPEN = sorted(str(s) for s in OPEN_STATES)
# Rebuilt from the snapshot; the other columns are the live row's.
_SNAPSHOT_DATES = ("due_date", "original_due_date")
_SNAPSHOT_INSTANTS = ("due_at", "assigned_at")
_SNAPSHOT_INTEGERS = ("extension_count", "percent_done")
# Columns never changed after the row is made (overdue_from is set once, when it is assigned).
_LIVE = ("id", "plan_id", "section_id", "task_id", "unit_id", "role", "period", "created_at", "overdue_from")


class _JsonDate(FunctionElement[Any]):
    """A JSON string "2025-12-31" as a date."""

    type = sa.Date()
    inherit_cache = True
    name = "json_date"


class _JsonInstant(FunctionElement[Any]):
    """A JSON string "2025-12-31T16:00:00Z" as a stored UTC instant."""

    type = UTCDateTime()
    inherit_cache = True
    name = "json_instant"


@compiles(_JsonDate)
def _date_default(element: _JsonDate, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(_JsonDate, "sqlite")
def _date_sqlite(element: _JsonDate, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps dates as ISO text already; CAST(… AS DATE) would make a number of it.
    return str(compiler.process(element.clauses, **kw))


@compiles(_JsonInstant)
def _instant_default(element: _JsonInstant, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMP WITH TIME ZONE)"


@compiles(_JsonInstant, "sqlite")
def _instant_sqlite(element: _JsonInstant, compiler: SQLCompiler, **kw: Any) -> str:
    # The form SQLAlchemy stores DATETIME in on SQLite (UTC, microseconds), so comparisons hold.
    return f"strftime('%Y-%m-%d %H:%M:%f000', {compiler.process(element.clauses, **kw)})"


_SNAPSHOT_TYPES: dict[str, Any] = {
    "state": sa.String(),
    "due_date": sa.Date(),
    "original_due_date": sa.Date(),
    "due_at": UTCDateTime(),
    "assigned_at": UTCDateTime(),
    "extension_count": sa.Integer(),
    "percent_done": sa.Integer(),
}


def _snapshot_pg(a: Any, at: datetime) -> Any:
    """PostgreSQL: the before-snapshot of each row's first audited change after `at`, parsed once
    (`json_to_record`), found by one index probe per row changed since (`LATERAL … LIMIT 1`)."""
    h = AuditEntry.__table__.alias("h")  # type: ignore[attr-defined]
    record = (
        sa.func.json_to_record(h.c.before)
        .table_valued(*(sa.column(k, t) for k, t in _SNAPSHOT_TYPES.items()))
        .render_derived(name="rec", with_types=True)
    )
    return (
        sa.select(*record.c)
        .select_from(h)
        .join(record, sa.true())
        .where(
            a.c.updated_at > at,
            h.c.entity_type == ENTITY,
            h.c.entity_id == sa.cast(a.c.id, sa.String),
            h.c.at > at,
            sa.cast(h.c.before, sa.Text) != "null",
        )
        .order_by(h.c.id)
        .limit(1)
        .lateral("snap")
    )


def assignments_at(
    at: datetime, *, plan_id: int | None = None, dialect: str = "sqlite", name: str = "asg_at"
) -> sa.Subquery:
    """The assignments (of one plan, or all) as they stood at `at`; see the module's docstring."""
    a = Assignment.__table__  # type: ignore[attr-defined]
    exists = sa.or_(a.c.created_at <= at, a.c.assigned_at <= at)
    if plan_id is not None:
        exists = sa.and_(a.c.plan_id == plan_id, exists)
    snapshot: dict[str, Any]
    if dialect == "postgresql":
        snap = _snapshot_pg(a, at)
        b: Any = a
        source: Any = a.outerjoin(snap, sa.true())
        snapshot = {k: snap.c[k] for k in _SNAPSHOT_TYPES}
        has_snap = snap.c.state.is_not(None)
    else:
        h = AuditEntry.__table__.alias("h")  # type: ignore[attr-defined]
        first_change = (
            sa.select(sa.func.min(h.c.id))
            .where(
                h.c.entity_type == ENTITY,
                h.c.entity_id == sa.cast(a.c.id, sa.String),
                h.c.at > at,
                h.c.before["state"].as_string().is_not(None),
            )
            .scalar_subquery()
        )
        inner = sa.select(*a.c, sa.case((a.c.updated_at > at, first_change)).label("snap_id")).where(exists)
        exists = sa.true()
        b = inner.subquery(f"{name}_base")
        snap_row = AuditEntry.__table__.alias(f"{name}_snap")  # type: ignore[attr-defined]
        before = snap_row.c.before
        source = b.outerjoin(snap_row, snap_row.c.id == b.c.snap_id)
        snapshot = {
            "state": before["state"].as_string(),
            **{c: _JsonDate(before[c].as_string()) for c in _SNAPSHOT_DATES},
            **{c: _JsonInstant(before[c].as_string()) for c in _SNAPSHOT_INSTANTS},
            **{c: before[c].as_integer() for c in _SNAPSHOT_INTEGERS},
        }
        has_snap = snap_row.c.id.is_not(None)

    def pick(column: str) -> Any:
        return sa.case((has_snap, snapshot[column]), else_=b.c[column]).label(column)

    terminal = {
        str(AssignmentState.completed): b.c.completed_at,
        str(AssignmentState.cancelled): b.c.cancelled_at,
    }
    state = sa.case(
        (has_snap, snapshot["state"]),
        (b.c.updated_at <= at, b.c.state),
        # Changed since, with no audit entry: the state timestamps tell.
        (b.c.cancelled_at <= at, str(AssignmentState.cancelled)),
        (b.c.completed_at <= at, str(AssignmentState.completed)),
        *(
            (sa.and_(b.c.state == s, stamp.is_(None)), s)  # a terminal state nobody stamped
            for s, stamp in terminal.items()
        ),
        (b.c.state.in_(_OPEN), b.c.state),
        (b.c.completion_requested_at <= at, str(AssignmentState.completion_requested)),
        (b.c.accepted_at <= at, str(AssignmentState.accepted)),
        else_=str(AssignmentState.assigned),
    ).label("state")
    columns = [
        *(b.c[c] for c in _LIVE),
        state,
        *(pick(c) for c in (*_SNAPSHOT_DATES, *_SNAPSHOT_INSTANTS, *_SNAPSHOT_INTEGERS)),
        sa.case((b.c.completed_at <= at, b.c.completed_at)).label("completed_at"),
        sa.case((b.c.cancelled_at <= at, b.c.cancelled_at)).label("cancelled_at"),
    ]
    return sa.select(*columns).select_from(source).where(exists).subquery(name)


def assignments_as_of(
    at: datetime, *, now: datetime, plan_id: int | None = None, dialect: str = "sqlite"
) -> Any:
    """What to select assignments from for figures as of `at`: the table itself unless `at` lies
    before `now`, then `assignments_at(at)`. Both have the table's column names (`.c.state`, …)."""
    if at < now:
        return assignments_at(at, plan_id=plan_id, dialect=dialect)
    return Assignment.__table__  # type: ignore[attr-defined]


__all__ = ["assignments_as_of", "assignments_at"]
