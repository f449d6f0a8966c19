"""The lean writes on PostgreSQL: two statements a request, on the driver, no BEGIN/COMMIT.

`api.writepath` runs 签收 and a new report through the unit of work on SQLAlchemy Core: on this
machine about 6 round trips a request (BEGIN, the scoped row, the history, the UPDATE, the audit and
outbox rows, COMMIT), each through SQLAlchemy's execution context, and the driver's own
per-statement work was most of the transaction's CPU (docs/performance.md, "Writes"). On
PostgreSQL the same work is two statements:

1. **the read**: the scoped row with the cached principal's check (`writepath.first_row`'s
   statement, compiled once) and whatever else the write needs — 签收: the assignment's history
   and so its audit chain's head (a LATERAL join); a report: its id, taken from its sequence;
2. **the write** (`duban.uow.write_statement`, the unit of work's form of it): the row's UPDATE
   (version-checked: `WHERE id AND version`) or INSERT (`ON CONFLICT DO NOTHING` for a report's
   period) with its outbox rows and audit entries in data-modifying CTEs that insert only when the
   row was written (`SELECT … FROM w`): one statement, so atomic by itself. The audit entries are
   linked and hashed, the events validated, before it is sent, from the values in hand (the new
   row's id came with the read).

A write's work is a generator of its statements (`Steps`), so that the same code runs on the
event loop's async connections (api.hotpath's pools: no threadpool hop) and on a sync connection
(`drive`: the sync pool's in autocommit when hotpath.THREADED is set, or tests' shared session);
this module drives them and compiles the reads (`compile_read`).

On the pool's connections these run in autocommit — each statement its own transaction, no BEGIN
and no COMMIT round trip. At READ COMMITTED (the server's default, the sessions') this answers as
the transaction did: there the read saw a snapshot of its own and took no lock either, and what
the write depends on is checked by the write itself (the row's version; the chain's unique
(entity, prev_hash) key; the period's unique key). Where the app's `session_factory` is set
(tests share one session) the same statements run on that session's connection through
SQLAlchemy's `exec_driver_sql`, inside its transaction, and the session commits. SQLite keeps the
unit of work's plain path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, Union, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from api.hotpath import _UTC_NAMES, _converters_of, _to_utc, _utc_columns
from duban import calendar, calendar_store
from duban.uow import Positional

# Statements sent by this path, for tests that count round trips.
statements_run = 0

T = TypeVar("T")
# A write's work: a generator that yields its statements — a compiled read (`Read.bind`: answered
# with dicts) or (sql, params) (answered with tuples) — and returns its answer. The same work runs
# on the event loop's async connections and on a sync connection (`drive`, `drive_async`); an
# error of a statement is raised inside the work at its `yield`.
Step = Union["Bound", tuple[str, dict[str, Any]], Positional]
Steps = Generator[Step, Any, T]


@dataclass(frozen=True, slots=True)
class On:
    """What a write's work needs to know of where it runs: the dialect to compile for, and the
    session whose connection runs its statements (tests share one; the write commits it) or None
    (a connection of its own in autocommit)."""

    dialect: Dialect
    session: Session | None = None


def _utc(raw: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    tz = raw.info.timezone
    return tz.utcoffset(None) == timedelta(0) and str(tz) in _UTC_NAMES


def _error(exc: psycopg.Error, sql: str, params: Any, raw: Any) -> StatementError:
    # As SQLAlchemy raises it (IntegrityError, or 503 when the database did not answer).
    broken = bool(raw.broken or raw.closed)
    return DBAPIError.instance(sql, params, exc, psycopg.Error, connection_invalidated=broken)


def drive(steps: Steps[T], raw: psycopg.Connection[Any], via: sa.Connection | None = None) -> T:
    """Run `steps` on a sync connection: in autocommit, or (`via`: SQLAlchemy's connection of a
    session, whose events fire) inside that session's transaction."""
    global statements_run
    utc = _utc(raw)
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(result) if error is None else steps.throw(error)
        except StopIteration as stop:
            return cast(T, stop.value)
        error = None
        statements_run += 1
        params: Any
        try:
            if isinstance(step, Positional):
                sql, params = step.named() if via is not None else (step.sql, step.values)
            else:
                sql, params = (step.read.sql, step.params) if isinstance(step, Bound) else step
            if via is not None:
                records: list[Any] = [tuple(r) for r in via.exec_driver_sql(sql, params)]
            else:
                try:
                    # A Positional: the raw cursor ($n parameters, no parsing of its SQL).
                    opened = psycopg.RawCursor(raw) if isinstance(step, Positional) else raw.cursor()
                    with opened as cursor:
                        cursor.execute(sql, params)
                        records = cursor.fetchall()  # every statement here answers rows
                except psycopg.Error as exc:
                    raise _error(exc, sql, params, raw) from exc
        except StatementError as exc:  # raised inside the work, at its `yield`
            error = exc
            continue
        result = step.read.dicts(records, utc) if isinstance(step, Bound) else records


async def drive_async(steps: Steps[T], raw: psycopg.AsyncConnection[Any]) -> T:
    """Run `steps` on an async connection in autocommit (api.hotpath's pools), on the event loop."""
    global statements_run
    utc = _utc(raw)
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(result) if error is None else steps.throw(error)
        except StopIteration as stop:
            return cast(T, stop.value)
        error = None
        statements_run += 1
        params: Any
        try:
            if isinstance(step, Positional):
                sql, params = step.sql, step.values  # the raw cursor: no parsing of its SQL
                async with psycopg.AsyncRawCursor(raw) as rc:
                    await rc.execute(sql, params)
                    records = await rc.fetchall()
            else:
                sql, params = (step.read.sql, step.params) if isinstance(step, Bound) else step
                async with raw.cursor() as cursor:
                    await cursor.execute(sql, params)
                    records = await cursor.fetchall()
        except psycopg.Error as exc:
            error = _error(exc, sql, params, raw)
            continue
        result = step.read.dicts(records, utc) if isinstance(step, Bound) else records


def one(step: Step) -> Steps[Any]:
    """A work of one statement: its answer."""
    return (yield step)


def check_calendar(raw: psycopg.Connection[Any], dialect: Dialect) -> None:
    """The working-day calendar's stamp, as the ORM's transactions check it (at most every few
    seconds): reloaded when another process changed it."""
    if not calendar_store.check_due():
        return
    found = drive(one(_stamp(dialect).bind({})), raw)
    if found and found[0]["stamp"] != calendar.current().stamp:
        from duban.db import get_engine

        with get_engine().connect() as conn:
            calendar_store.refresh(conn)


# --- reads: a Select compiled once ------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A Select compiled for psycopg: its SQL, its compile-time values, its result conversions."""

    sql: str
    defaults: dict[str, Any]
    names: tuple[str, ...]
    converters: list[Callable[[Any], Any] | None]
    utc: list[bool]

    def bind(self, params: dict[str, Any]) -> Bound:
        return Bound(self, {**self.defaults, **params})

    def dicts(self, records: list[Any], utc: bool) -> list[dict[str, Any]]:
        """The rows as dicts, each value as SQLAlchemy's result processing would give it."""
        converters = self.converters
        if not utc:
            converters = [f or (_to_utc if u else None) for f, u in zip(converters, self.utc, strict=True)]
        pairs = [(i, f) for i, f in enumerate(converters) if f is not None]
        out = []
        for record in records:
            row = list(record)
            for i, f in pairs:
                if row[i] is not None:
                    row[i] = f(row[i])
            out.append(dict(zip(self.names, row, strict=True)))
        return out


@dataclass(frozen=True, slots=True)
class Bound:
    """A compiled read with its parameters: a step of a write's work."""

    read: Read
    params: dict[str, Any]


def compile_read(
    stmt: sa.Select[Any],
    dialect: Dialect,
    wrap: Callable[[str], str] | None = None,
    extra: Sequence[Any] = (),
) -> Read:
    """`stmt` compiled once (its parameters by name: `%(name)s`); `wrap` puts more around its SQL
    (a LATERAL join) whose result columns are `extra` (column objects: their names, types)."""
    compiled: SQLCompiler = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors: Mapping[str, Any] = compiled._bind_processors
    required = {b.key for b in compiled.binds.values() if b.required}
    defaults = {
        k: (processors[k](v) if k in processors and v is not None else v)
        for k, v in compiled.construct_params(_check=False).items()
        if k not in required
    }
    names = [str(c.key) for c in stmt.selected_columns]
    converters = _converters_of(compiled, dialect)
    utc = _utc_columns(stmt)
    sql = compiled.string
    if wrap is not None:
        sql = wrap(sql)
        names += [f"h_{c.key}" for c in extra]
        converters += [
            None
            if isinstance(c.type, UTCDateTime)
            else c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in extra
        ]
        utc += [isinstance(c.type, UTCDateTime) for c in extra]
    return Read(sql, defaults, tuple(names), converters, utc)


@functools.cache
def _stamp(dialect: Dialect) -> Read:
    return compile_read(calendar_store.stamp_statement(), dialect)
