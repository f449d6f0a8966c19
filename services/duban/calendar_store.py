"""The calendar in the database: the office's overrides, the `calendar_day` ordinals, the stamp.

Processes keep the calendar in memory (duban.calendar) and check the database's stamp at the
start of a transaction, at most every `check_seconds`: one primary-key read, and none at all
in between. A change writes the overrides, the affected `calendar_day` rows and a new stamp in
one transaction; this process sees it at its next transaction, other processes within
`check_seconds`. The stamp is a content hash (package version + overrides), so a rolled-back
change, another database with the same content, or a second process all agree on it.

Core statements over light table objects (not the ORM models): the migration that creates
the tables calls `sync` too, and must keep working when the models grow columns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from duban import calendar
from duban.calendar import EPOCH, PACKAGE_VERSION, SPAN_END, Calendar, Override

log = logging.getLogger(__name__)

override_t = sa.table(
    "calendar_override",
    sa.column("id", sa.Integer),
    sa.column("year", sa.Integer),
    sa.column("day", sa.Date),
    sa.column("kind", sa.String),
    sa.column("name", sa.String),
    sa.column("source", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("created_by_id", sa.Integer),
)
day_t = sa.table(
    "calendar_day",
    sa.column("day", sa.Date),
    sa.column("is_working_day", sa.Boolean),
    sa.column("working_ordinal", sa.Integer),
)
state_t = sa.table(
    "calendar_state",
    sa.column("id", sa.Integer),
    sa.column("stamp", sa.String),
    sa.column("package_version", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)

# How stale another process's change may be seen here; 0 checks at every transaction (tests).
check_seconds: float = 5.0
_next_check = 0.0
_built: OrderedDict[str, Calendar] = OrderedDict()  # stamp -> calendar, a few, for tests' many DBs
_lock = threading.Lock()
_tables_present: set[str] = set()


def _as_connection(bind: Connection | Session) -> Connection:
    return bind.connection() if isinstance(bind, Session) else bind


def load_overrides(bind: Connection | Session) -> list[Override]:
    rows = _as_connection(bind).execute(
        sa.select(override_t.c.day, override_t.c.kind, override_t.c.name, override_t.c.source)
    )
    return [
        Override(day=r.day, working=r.kind == "work", name=r.name or "", source=r.source or "") for r in rows
    ]


def db_stamp(bind: Connection | Session) -> str | None:
    return _as_connection(bind).execute(sa.select(state_t.c.stamp).where(state_t.c.id == 1)).scalar()


def refresh(bind: Connection | Session) -> Calendar:
    """Make the process's calendar the database's (a no-op when the stamps agree)."""
    conn = _as_connection(bind)
    stamp = db_stamp(conn)
    if stamp is None or stamp == calendar.current().stamp:
        return calendar.current()
    with _lock:
        cal = _built.get(stamp)
        if cal is None:
            overrides = load_overrides(conn)
            cal = Calendar(overrides, stamp=stamp) if overrides else calendar.package_calendar()
            _built[stamp] = cal
            while len(_built) > 8:
                _built.popitem(last=False)
        else:
            _built.move_to_end(stamp)
    calendar.use(cal)
    return cal


def invalidate() -> None:
    """Check the stamp at the next transaction (this process has just changed the calendar)."""
    global _next_check
    _next_check = 0.0


def _has_tables(conn: Connection) -> bool:
    key = conn.engine.url.render_as_string(hide_password=True)
    if key in _tables_present:
        return True
    # Only a present table is remembered: a database migrated later is then picked up.
    if sa.inspect(conn).has_table("calendar_state"):
        _tables_present.add(key)
        return True
    return False


def _after_begin(_session: Session, transaction: Any, connection: Connection) -> None:
    global _next_check
    if transaction.nested or transaction.parent is not None:
        return
    now = time.monotonic()
    if now < _next_check:
        return
    _next_check = now + check_seconds
    if _has_tables(connection):
        refresh(connection)


def check_due() -> bool:
    """True (once per `check_seconds`) when a reader that bypasses the ORM should check the stamp.

    The async read path (api.hotpath) has no ORM transaction to hook: it asks this, reads
    `stamp_statement()` in its own round trip and calls `refresh` only when the stamps differ.
    """
    global _next_check
    now = time.monotonic()
    if now < _next_check:
        return False
    _next_check = now + check_seconds
    return True


def stamp_statement() -> sa.Select[Any]:
    return sa.select(state_t.c.stamp).where(state_t.c.id == 1)


_installed = False


def install(check_every: float | None = None) -> None:
    """Check the calendar stamp at the start of every ORM transaction (at most every few seconds)."""
    global _installed, check_seconds
    if check_every is not None:
        check_seconds = check_every
    if not _installed:
        event.listen(Session, "after_begin", _after_begin)
        _installed = True


# --- writing: the table and the stamp follow the overrides ----------------------------------


def day_rows(cal: Calendar, since: date = EPOCH) -> list[dict[str, Any]]:
    rows = []
    day = max(since, EPOCH)
    one = timedelta(days=1)
    while day <= SPAN_END:
        rows.append(
            {"day": day, "is_working_day": cal.is_working_day(day), "working_ordinal": cal.ordinal(day)}
        )
        day += one
    return rows


def first_difference(old: Calendar, new: Calendar) -> date | None:
    """The first day on which two calendars of the same package disagree (ordinals follow from it)."""
    days = [
        d
        for d in old.overrides.keys() | new.overrides.keys()
        if old.is_working_day(d) != new.is_working_day(d)
    ]
    return max(min(days), EPOCH) if days else None


def write_days(conn: Connection, cal: Calendar, since: date = EPOCH) -> int:
    """Rewrite `calendar_day` from `since` to the end of the span; returns the rows written."""
    conn.execute(sa.delete(day_t).where(day_t.c.day >= since))
    rows = day_rows(cal, since)
    for i in range(0, len(rows), 5000):
        conn.execute(sa.insert(day_t), rows[i : i + 5000])
    return len(rows)


def write_state(conn: Connection, stamp: str, now: datetime) -> None:
    updated = conn.execute(
        sa.update(state_t)
        .where(state_t.c.id == 1)
        .values(stamp=stamp, package_version=PACKAGE_VERSION, updated_at=now)
    )
    if updated.rowcount == 0:
        conn.execute(
            sa.insert(state_t).values(id=1, stamp=stamp, package_version=PACKAGE_VERSION, updated_at=now)
        )


def lock_state(conn: Connection) -> str | None:
    """Serialise calendar writers (PostgreSQL row lock; SQLite's write lock is database-wide)."""
    stmt = sa.select(state_t.c.stamp).where(state_t.c.id == 1)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar()


def sync(bind: Connection | Session, *, now: datetime, previous: Calendar | None = None) -> Calendar:
    """Bring `calendar_day` and the stamp in line with this process's package and the overrides.

    Called after the overrides change (with the calendar before the change, so only the days
    from the first difference are rewritten) and by `duban db upgrade` (an upgraded package).
    """
    conn = _as_connection(bind)
    stored = lock_state(conn)
    overrides = load_overrides(conn)
    cal = Calendar(overrides) if overrides else calendar.package_calendar()
    if stored == cal.stamp:
        return cal
    # Rewrite from the first changed day when the table holds `previous`; all of it otherwise
    # (a new database, or a package upgrade).
    since = first_difference(previous, cal) if previous is not None and stored == previous.stamp else EPOCH
    if since is not None:
        write_days(conn, cal, since)
    write_state(conn, cal.stamp, now)
    return cal


def day_cutoff_statement(today: date, n: int) -> sa.Select[Any]:
    """SQL for `calendar.latest_due_date_overdue_by`'s cutoff, from the `calendar_day` table.

    overdue(D) >= n  <=>  ordinal(D) <= ordinal(today - 1) - n; the answer is the day before the
    working day numbered one more than that bound (selected here; the caller subtracts the day).
    """
    yesterday = today - timedelta(days=1)
    bound = sa.select(day_t.c.working_ordinal).where(day_t.c.day == yesterday).scalar_subquery() - n + 1
    return sa.select(day_t.c.day).where(day_t.c.is_working_day.is_(True), day_t.c.working_ordinal == bound)


def overdue_at_least_clause(due_date: Any, *, today: date, n: int) -> Any:
    """SQL condition "`due_date` is at least `n` working days overdue on `today`" (n >= 1).

    `due_date < (the working day numbered ordinal(today - 1) - n + 1)`: an uncorrelated constant
    subquery on `calendar_day`, so the comparison stays an index range on the due date. Near the
    ends of the table's span the cutoff comes from duban.calendar instead.
    """
    if today - timedelta(days=2 * 366) < EPOCH or today + timedelta(days=7) > SPAN_END:
        return due_date <= _python_cutoff(today, n)
    return due_date < day_cutoff_statement(today, n).scalar_subquery()


def _python_cutoff(today: date, n: int) -> date:
    cal = calendar.current()
    return cal.working_day_number(cal.ordinal(today - timedelta(days=1)) - n + 1) - timedelta(days=1)


def overdue_cutoff_in_sql(bind: Connection | Session, *, today: date, n: int) -> date | None:
    """The largest due date at least `n` working days overdue on `today`, computed by the database.

    None when the answer lies outside the table's span (callers fall back to duban.calendar).
    """
    if n <= 0:
        return today - timedelta(days=1)
    day = _as_connection(bind).execute(day_cutoff_statement(today, n)).scalar()
    return None if day is None else day - timedelta(days=1)


def working_days_overdue_sql(due_date: Any, today: date) -> Any:
    """A SQL expression: working days overdue of `due_date` (a column) on `today` (0 when not overdue).

    For filters such as "overdue by at least 3 working days" and for ordering; a correlated
    lookup of the due date's ordinal against the constant ordinal of yesterday.
    """
    yesterday = today - timedelta(days=1)
    due, last = day_t.alias("due_day"), day_t.alias("last_day")
    due_ord = sa.select(due.c.working_ordinal).where(due.c.day == due_date).scalar_subquery()
    last_ord = sa.select(last.c.working_ordinal).where(last.c.day == yesterday).scalar_subquery()
    return sa.case((due_date < yesterday, last_ord - due_ord), else_=0)
