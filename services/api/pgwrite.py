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

This module runs them (`Statements`) and compiles the reads (`compile_read`).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from api.hotpath import _UTC_NAMES, _converters_of, _to_utc, _utc_columns
from duban import calendar, calendar_store

# Statements sent by this path, for tests that count round trips.
statements_run = 0


class Statements:
    """Where a lean write's statements run: a pooled connection in autocommit (`via` None), or a
    session's connection inside its transaction (`via`: SQLAlchemy's, whose events fire)."""

    def __init__(
        self,
        raw: psycopg.Connection[Any],
        dialect: Dialect,
        via: sa.Connection | None = None,
        session: Session | None = None,
    ) -> None:
        self.raw = raw
        self.dialect = dialect
        self.via = via
        self.session = session  # the session of `via`: the write commits it (duban.uow)
        tz = raw.info.timezone
        self.utc = tz.utcoffset(None) == timedelta(0) and str(tz) in _UTC_NAMES

    def run(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        global statements_run
        statements_run += 1
        if self.via is not None:
            return [tuple(r) for r in self.via.exec_driver_sql(sql, params)]
        try:
            with self.raw.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()  # every statement here answers rows (SELECT, RETURNING)
        except psycopg.Error as exc:
            # As SQLAlchemy raises it (IntegrityError, or 503 when the database did not answer).
            raise DBAPIError.instance(
                sql, params, exc, psycopg.Error, connection_invalidated=self.raw.broken or self.raw.closed
            ) from exc

    def check_calendar(self) -> None:
        """The working-day calendar's stamp, as the ORM's transactions check it (at most every few
        seconds): reloaded when another process changed it."""
        if not calendar_store.check_due():
            return
        found = _stamp(self.dialect).rows(self, {})
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

    def rows(self, statements: Statements, params: dict[str, Any]) -> list[dict[str, Any]]:
        records = statements.run(self.sql, {**self.defaults, **params})
        converters = self.converters
        if not statements.utc:
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
