"""The one write path: load in scope → check the state → change → version → audit → outbox → one commit.

A service keeps only the rule that is its own::

    with unit_of_work(session, actor=user, now=now) as uow:
        check_transition(report, "approve")          # the rule
        uow.track(report, action="report.approve")   # before-snapshot; audited with its after-state
        report.state = ProgressReportState.approved
        uow.emit(ReportReviewed(...), plan_id=..., unit_id=...)
    # committed here, or rolled back with nothing written

Every mutable table carries a version column that SQLAlchemy checks on UPDATE (`version_id_col`,
see duban.models._base.Versioned): a second writer that read the same version matches no row, and
the unit of work turns that into 409 `<entity>.concurrent_update` — the database decides, not a
read-then-check in Python. Nothing else in the services commits, audits or writes outbox rows.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from duban import audit, outbox
from duban.errors import Conflict
from duban.events import EventData
from duban.models import AuditEntry, OutboxEvent

T = TypeVar("T")
Snapshot = Callable[[Any], dict[str, Any]]

# Entity names in error codes, where they differ from the table name.
_ENTITY_NAMES = {
    "progress_report": "report",
    "extension_request": "extension",
    "user_account": "user",
    "plan_section": "section",
    "webhook_endpoint": "webhook",
}
_STALE_TABLE = re.compile(r"on table '([^']+)'")
_OPEN = "duban.uow.open"  # session.info key of the unit of work open on a session
_OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
# Outbox rows and audit entries in one statement on PostgreSQL (a switch for measurements).
ONE_STATEMENT = True


def entity_type_of(obj: Any) -> str:
    return str(getattr(obj, "__tablename__", type(obj).__name__.lower()))


def _entity_name(table: str) -> str:
    return _ENTITY_NAMES.get(table, table)


def concurrent_update(table: str | None) -> Conflict:
    name = _entity_name(table) if table else "entity"
    return Conflict("已被他人修改，请刷新后重试", code=f"{name}.concurrent_update")


@dataclass
class Emitted:
    """An event's outbox row, written at commit: its column values, and its id once written (no
    ORM object: building one cost more than writing the row)."""

    values: dict[str, Any]
    id: int | None = None

    @property
    def message_id(self) -> str:
        return str(self.values["message_id"])


class UnitOfWork:
    """Collects what a write changes; `commit` audits and emits it in the same transaction."""

    def __init__(self, session: Session, *, actor: Any | None, now: datetime) -> None:
        self.session = session
        self.actor = actor
        self.now = now
        self._tracked: list[tuple[Any, str, str, dict[str, Any] | None, Snapshot]] = []
        self._extra: list[audit.Pending] = []
        self._events: list[Emitted] = []
        self._fresh: set[tuple[str, str]] = set()  # rows inserted by `insert_row`
        self._heads: dict[tuple[str, str], str] = {}  # chain heads the caller read (`chain_head`)
        self.audit_ids: list[int] = []  # the ids of the entries written at commit, in order
        self.done = False

    # --- what changes

    # `snapshot` replaces the row's plain field dump in the audit entry where an entity is more
    # than its row (a task with its units, a group with its members); it runs after the flush.

    def track(
        self, obj: T, *, action: str, entity_type: str | None = None, snapshot: Snapshot | None = None
    ) -> T:
        """An existing row about to change: snapshot it now, audit its state at commit."""
        snap = snapshot or audit.snapshot
        self._tracked.append((obj, action, entity_type or entity_type_of(obj), snap(obj), snap))
        return obj

    def add(
        self,
        obj: T,
        *,
        action: str | None = None,
        entity_type: str | None = None,
        snapshot: Snapshot | None = None,
    ) -> T:
        """A new row; audited (after flush, with its id) when an action is named."""
        self.session.add(obj)
        if action is not None:
            self._tracked.append(
                (obj, action, entity_type or entity_type_of(obj), None, snapshot or audit.snapshot)
            )
        return obj

    def guard(self, obj: Any) -> None:
        """Bump `obj`'s row version without other changes, so that writers deciding on the same
        parent (e.g. "no pending request yet") conflict instead of both succeeding."""
        key = inspect(obj).mapper.version_id_col.key
        setattr(obj, key, getattr(obj, key) + 1)

    def delete(
        self, obj: Any, *, action: str, entity_type: str | None = None, snapshot: Snapshot | None = None
    ) -> None:
        self._extra.append(
            audit.Pending(
                action=action,
                entity_type=entity_type or entity_type_of(obj),
                entity_id=str(obj.id),
                before=(snapshot or audit.snapshot)(obj),
            )
        )
        self.session.delete(obj)

    def record(
        self,
        *,
        action: str,
        entity_type: str,
        entity_id: Any,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """An audit entry that is not a row's before/after (a sign-in, a bulk operation's summary)."""
        self._extra.append(
            audit.Pending(
                action=action, entity_type=entity_type, entity_id=str(entity_id), before=before, after=after
            )
        )

    def emit(
        self,
        event: EventData,
        *,
        dedupe_key: str | None = None,
        plan_id: int | None = None,
        assignment_id: int | None = None,
        unit_id: int | None = None,
        endpoint_id: int | None = None,
    ) -> Emitted:
        row = Emitted(  # added at commit with the others: one multi-row INSERT
            outbox.values(
                event=event,
                dedupe_key=dedupe_key,
                now=self.now,
                plan_id=plan_id,
                assignment_id=assignment_id,
                unit_id=unit_id,
                endpoint_id=endpoint_id,
            )
        )
        self._events.append(row)
        return row

    # --- rows written without the ORM (the hot writes: no identity map, no flush)

    def update_row(
        self,
        table: sa.Table,
        before: dict[str, Any],
        values: dict[str, Any],
        *,
        action: str,
        entity_type: str | None = None,
    ) -> dict[str, Any]:
        """UPDATE one row read as `before` (all its columns), checked against its version as the
        ORM's version_id_col does: a writer whose copy is stale matches no row and answers 409.
        Audited with its before/after state at commit; answers the row as it now is."""
        version = "row_version" if "row_version" in table.c else "version"
        changed = {**values, version: before[version] + 1}
        if "updated_at" in table.c and "updated_at" not in values:
            changed["updated_at"] = self.now
        after = {**before, **changed}
        params = {f"v_{k}": v for k, v in changed.items()}
        params["w_id"], params["w_version"] = before["id"], before[version]
        result = self.session.connection().execute(
            _update_statement(table, version, tuple(sorted(changed))), params
        )
        if result.rowcount != 1:
            raise concurrent_update(table.name)
        self._extra.append(
            audit.Pending(
                action=action,
                entity_type=entity_type or table.name,
                entity_id=str(before["id"]),
                before=audit.snapshot_row(before),
                after=audit.snapshot_row(after),
            )
        )
        return after

    def insert_rows(
        self,
        table: sa.Table,
        rows: list[dict[str, Any]],
        *,
        action: str | None,
        entity_type: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """INSERT rows in one statement (each column's default applied where a row leaves it out,
        as the model's would be); audited like `add` when an action is named (`extra`: what the
        entries' snapshot holds besides the row). Answers the rows with their ids."""
        defaults = {c.key: _default(c) for c in table.columns if c.key != "id"}
        full = [{**defaults, **values} for values in rows]
        connection = self.session.connection()
        if len(full) == 1:  # one row: a plain execution (no executemany batching around it)
            ids = connection.execute(_insert_statement(table), full[0]).scalars().all()
        else:
            ids = connection.execute(_insert_statement(table), full).scalars().all()
        out = [{"id": new_id, **row} for new_id, row in zip(ids, full, strict=True)]
        self._audit_inserted(out, action, entity_type or table.name, extra)
        return out

    def insert_new(
        self,
        table: sa.Table,
        values: dict[str, Any],
        *,
        unique: tuple[str, ...],
        action: str | None,
        entity_type: str | None = None,
    ) -> dict[str, Any] | None:
        """`insert_row`, unless a row with the same values of the `unique` columns (a unique
        constraint of the table) exists already: then nothing is written and the answer is None.
        The existence check and the INSERT are one statement (`ON CONFLICT … DO NOTHING`)."""
        defaults = {c.key: _default(c) for c in table.columns if c.key != "id"}
        row = {**defaults, **values}
        connection = self.session.connection()
        stmt = _insert_new_statement(table, unique, connection.dialect.name)
        new_id = connection.execute(stmt, row).scalar()
        if new_id is None:
            return None
        out = {"id": new_id, **row}
        self._audit_inserted([out], action, entity_type or table.name, None)
        return out

    def _audit_inserted(
        self,
        out: list[dict[str, Any]],
        action: str | None,
        kind: str,
        extra: dict[str, Any] | None,
    ) -> None:
        if action is not None:
            for row in out:
                self._fresh.add((kind, str(row["id"])))
                after = {**audit.snapshot_row(row), **(extra or {})}
                self._extra.append(
                    audit.Pending(action=action, entity_type=kind, entity_id=str(row["id"]), after=after)
                )

    def insert_row(
        self,
        table: sa.Table,
        values: dict[str, Any],
        *,
        action: str | None,
        entity_type: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`insert_rows` of one row."""
        return self.insert_rows(table, [values], action=action, entity_type=entity_type, extra=extra)[0]

    def pending(self) -> list[audit.Pending]:
        """The entries recorded so far besides the tracked ORM rows (`update_row`, `record`…)."""
        return list(self._extra)

    def chain_head(self, entity_type: str, entity_id: Any, head: str | None) -> None:
        """The hash of the newest audit entry of an entity, read by the caller in this transaction
        (with the entity's history): its next entry links to it without the tail look-up."""
        self._heads[(entity_type, str(entity_id))] = head or audit.GENESIS

    # --- items of a batch

    @contextmanager
    def savepoint(self) -> Iterator[UnitOfWork]:
        """One item of a batch: on an error its changes, audit entries and events are undone
        (ROLLBACK TO SAVEPOINT) and the error is raised; the batch goes on and commits once.
        A `unit_of_work` opened inside a unit of work on the same session is one of these."""
        marks = (len(self._tracked), len(self._extra), len(self._events))
        nested = self.session.begin_nested()
        try:
            yield self
            self._stamp(marks[0])  # before the release flushes them (then nothing looks modified)
            nested.commit()
        except BaseException as exc:
            if nested.is_active:
                nested.rollback()
            del self._tracked[marks[0] :], self._extra[marks[1] :], self._events[marks[2] :]
            if isinstance(exc, StaleDataError):
                match = _STALE_TABLE.search(str(exc))
                raise concurrent_update(match.group(1) if match else None) from exc
            raise

    # --- the end

    def flush(self) -> None:
        """Send pending changes now (to get ids); a lost race surfaces as 409 (see unit_of_work)."""
        self.session.flush()

    def _stamp(self, start: int = 0) -> None:
        for obj, _action, _type, before, _snap in self._tracked[start:]:
            if before is not None and hasattr(obj, "updated_at") and self.session.is_modified(obj):
                obj.updated_at = self.now

    def commit(self) -> None:
        self._stamp()
        self.flush()
        entries = []
        new_rows: set[tuple[str, str]] = set(self._fresh)
        for obj, action, entity_type, before, snap in self._tracked:
            after = snap(obj)
            entries.append(
                audit.Pending(
                    action=action, entity_type=entity_type, entity_id=str(obj.id), before=before, after=after
                )
            )
            if before is None:
                new_rows.add((entity_type, str(obj.id)))
        entries.extend(self._extra)
        # A row inserted now has no chain yet where ids are never reused (PostgreSQL sequences):
        # its first entry links to the genesis without a look-up. SQLite may reuse a deleted row's id.
        postgres = self.session.get_bind().dialect.name == "postgresql"
        fresh = new_rows if postgres else set()
        connection = self.session.connection()
        events = [e.values for e in self._events]
        rows = audit.linked(
            self.session, actor=self.actor, entries=entries, now=self.now, fresh=fresh, tails=self._heads
        )
        try:
            if postgres and events and rows and ONE_STATEMENT:
                # Both in one statement (one round trip): two INSERTs in data-modifying CTEs.
                event_ids, self.audit_ids = _insert_both(connection, events, rows)
            else:
                # Without the ORM, each in one multi-row INSERT.
                event_ids = (
                    list(connection.execute(_insert_statement(_OUTBOX), events).scalars()) if events else []
                )
                if rows:
                    self.audit_ids = list(connection.execute(_insert_statement(_AUDIT), rows).scalars())
        except IntegrityError as exc:
            if "audit_entry" in str(exc.orig) or "prev_hash" in str(exc.orig):
                # Two writers extended one entity's chain at once: the later one retries.
                raise concurrent_update(entries[0].entity_type if entries else None) from exc
            raise
        for event, event_id in zip(self._events, event_ids, strict=True):
            event.id = event_id
        self.session.commit()
        self.done = True


# Built once per table and set of columns: a statement object reused keeps its cache key and its
# compiled form (building the WHERE and SET clauses cost more than running them).
@functools.cache
def _update_statement(table: sa.Table, version: str, keys: tuple[str, ...]) -> sa.Update:
    return (
        sa.update(table)
        .where(
            table.c.id == sa.bindparam("w_id", type_=table.c.id.type),
            table.c[version] == sa.bindparam("w_version", type_=table.c[version].type),
        )
        .values({table.c[k]: sa.bindparam(f"v_{k}", type_=table.c[k].type) for k in keys})
    )


@functools.cache
def _insert_statement(table: sa.Table) -> sa.Insert:
    return sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)


@functools.cache
def _insert_new_statement(table: sa.Table, unique: tuple[str, ...], dialect: str) -> sa.Insert:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c[k] for k in unique])
        .returning(table.c.id)
    )


@functools.cache
def _both_statement(
    event_keys: tuple[str, ...], events: int, entry_keys: tuple[str, ...], entries: int
) -> sa.TextClause:
    """Outbox rows and audit entries in one statement, each row's values in its own parameters
    (`o<i>_<column>`, `a<i>_<column>`, typed as the columns: the same bind processing as an
    INSERT of the table); answers (0, event id) and (1, entry id) rows. Text, because SQLAlchemy
    does not cache the compiled form of a multi-row INSERT inside a CTE (it compiled it anew at
    every execution, 2.7 ms)."""
    binds: list[sa.BindParameter[Any]] = []

    def insert(table: sa.Table, prefix: str, keys: tuple[str, ...], n: int) -> str:
        rows = []
        for i in range(n):
            slots = []
            for k in keys:
                column = table.c[k]
                binds.append(sa.bindparam(f"{prefix}{i}_{k}", type_=column.type))
                json = isinstance(column.type, sa.JSON)
                slots.append(f"CAST(:{prefix}{i}_{k} AS JSON)" if json else f":{prefix}{i}_{k}")
            rows.append(f"({', '.join(slots)})")
        return f"INSERT INTO {table.name} ({', '.join(keys)}) VALUES {', '.join(rows)} RETURNING id"

    sql = (
        f"WITH o AS ({insert(_OUTBOX, 'o', event_keys, events)}), "
        f"a AS ({insert(_AUDIT, 'a', entry_keys, entries)}) "
        "SELECT 0 AS k, id FROM o UNION ALL SELECT 1 AS k, id FROM a"
    )
    return sa.text(sql).bindparams(*binds)


def _insert_both(
    connection: sa.Connection, events: list[dict[str, Any]], entries: list[dict[str, Any]]
) -> tuple[list[int], list[int]]:
    params = {f"o{i}_{k}": v for i, row in enumerate(events) for k, v in row.items()}
    params.update({f"a{i}_{k}": v for i, row in enumerate(entries) for k, v in row.items()})
    found: tuple[list[int], list[int]] = ([], [])
    stmt = _both_statement(tuple(events[0]), len(events), tuple(entries[0]), len(entries))
    for kind, new_id in connection.execute(stmt, params):
        found[kind].append(new_id)
    # One INSERT's sequence values follow its VALUES rows in order: sorted ids are the rows' ids.
    return sorted(found[0]), sorted(found[1])


def _default(column: sa.Column[Any]) -> Any:
    default = column.default
    if default is None:
        return None
    arg = default.arg  # type: ignore[attr-defined]
    if callable(arg):
        return arg(None)  # SQLAlchemy wraps argument-less callables to take the execution context
    return arg


@contextmanager
def unit_of_work(session: Session, *, actor: Any | None, now: datetime) -> Iterator[UnitOfWork]:
    """One write, committed on a clean exit; on any error nothing of it is left behind.

    Opened while another unit of work is open on the same session (an item of a bulk request),
    it joins that one as a savepoint: its errors undo only its own changes, and the outer one
    commits everything at once (same actor and time as the outer one).
    """
    outer: UnitOfWork | None = session.info.get(_OPEN)
    if outer is not None and not outer.done:
        with outer.savepoint():
            yield outer
        return
    uow = UnitOfWork(session, actor=actor, now=now)
    session.info[_OPEN] = uow
    try:
        yield uow
        if not uow.done:
            uow.commit()
    except StaleDataError as exc:
        # Raised by whichever flush met the lost race: an explicit one, or an autoflush before a query.
        session.rollback()
        match = _STALE_TABLE.search(str(exc))
        raise concurrent_update(match.group(1) if match else None) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_OPEN, None)


# --- one statement: a row, its events and its audit entries (PostgreSQL; api.pgwrite) -------------
#
# The lean writes' form on PostgreSQL: the row's UPDATE (by id and version) or INSERT, and in
# data-modifying CTEs its outbox rows and audit entries, inserted only when the row was written
# (`SELECT … FROM w`). Text with every value cast to its column's type: SQLAlchemy compiled a
# multi-row INSERT inside a CTE anew at every execution (`_both_statement`).


def _cast(column: sa.Column[Any], dialect: Dialect) -> str:
    type_ = column.type
    if isinstance(type_, sa.JSON):
        return "json"
    if isinstance(type_, AutoString | sa.String):
        return "text"  # never varchar(n): a cast would cut a long value instead of refusing it
    if isinstance(type_, UTCDateTime):
        return "timestamptz"
    return str(type_.compile(dialect=dialect))


def _value(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.JSON):
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return json.dumps(value)  # what SQLAlchemy's JSON type would have sent (or its error)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _slots(table: sa.Table, prefix: str, keys: Sequence[str], dialect: Dialect) -> str:
    return ", ".join(f"%({prefix}{k})s::{_cast(table.c[k], dialect)}" for k in keys)


_WRITES: dict[Any, str] = {}


def _statement(
    key: tuple[Any, ...],
    write: Callable[[], str],
    events: tuple[str, ...],
    n_events: int,
    entries: tuple[str, ...],
    n_entries: int,
    dialect: Dialect,
) -> str:
    sql = _WRITES.get(key)
    if sql is None:
        parts = [f"WITH w AS ({write()})"]
        selects = ["SELECT 0 AS k, id FROM w"]
        for name, table, keys, n in (("o", _OUTBOX, events, n_events), ("a", _AUDIT, entries, n_entries)):
            if not n:
                continue
            rows = " UNION ALL ".join(
                f"SELECT {_slots(table, f'{name}{i}_', keys, dialect)} FROM w" for i in range(n)
            )
            parts.append(f"{name} AS (INSERT INTO {table.name} ({', '.join(keys)}) {rows} RETURNING id)")
            selects.append(f"SELECT {1 if name == 'o' else 2} AS k, id FROM {name}")
        sql = _WRITES[key] = f"{', '.join(parts)} {' UNION ALL '.join(selects)}"
    return sql


@dataclass
class Written:
    row_id: int | None  # None: the row's statement wrote nothing (a stale version, a duplicate)
    event_ids: list[int]
    audit_ids: list[int]


def write_statement(
    dialect: Dialect,
    key: tuple[Any, ...],
    sql: Callable[[], str],
    params: dict[str, Any],
    *,
    events: list[dict[str, Any]],
    entries: list[dict[str, Any]],
    entity: str,
    session: Session | None = None,
) -> Generator[tuple[str, dict[str, Any]], list[tuple[Any, ...]], Written]:
    """The row's statement `sql()` (… RETURNING id, cached under `key`) with the outbox rows
    (`outbox.values`) and audit entries (`audit.linked`), inserted only when it wrote its row: one
    PostgreSQL statement, so atomic by itself — yielded as (sql, params) to whoever runs it
    (api.pgwrite), its rows sent back. A fork of an entity's audit chain (another writer linked
    first) answers 409, as the unit of work does. `session`: the statement ran on that session's
    connection, which then commits."""
    event_keys = tuple(events[0]) if events else ()
    entry_keys = tuple(entries[0]) if entries else ()
    stmt = _statement(
        (key, event_keys, len(events), entry_keys, len(entries)),
        sql,
        event_keys,
        len(events),
        entry_keys,
        len(entries),
        dialect,
    )
    values = dict(params)
    for prefix, table, rows in (("o", _OUTBOX, events), ("a", _AUDIT, entries)):
        for i, row in enumerate(rows):
            for k, v in row.items():
                values[f"{prefix}{i}_{k}"] = _value(table.c[k], v)
    try:
        found = yield stmt, values
    except IntegrityError as exc:
        if "audit_entry" in str(exc.orig) or "prev_hash" in str(exc.orig):
            raise concurrent_update(entity) from exc
        raise
    out = Written(None, [], [])
    for kind, new_id in found:
        if kind == 0:
            out.row_id = new_id
        else:
            (out.event_ids if kind == 1 else out.audit_ids).append(new_id)
    out.event_ids.sort()  # one INSERT's sequence values follow its rows in order
    out.audit_ids.sort()
    if session is not None:
        session.commit()  # the statements ran inside a session's transaction (tests share one)
    return out


def update_sql(table: sa.Table, version: str, keys: Sequence[str], dialect: Dialect) -> str:
    """UPDATE one row by id and version (`w_id`, `w_version`), its new values `v_<column>`."""
    sets = ", ".join(f"{k} = %(v_{k})s::{_cast(table.c[k], dialect)}" for k in keys)
    return f"UPDATE {table.name} SET {sets} WHERE id = %(w_id)s AND {version} = %(w_version)s RETURNING id"


def insert_sql(table: sa.Table, keys: Sequence[str], unique: Sequence[str], dialect: Dialect) -> str:
    """INSERT one row (`v_<column>`, the id among them), nothing when `unique` columns conflict."""
    return (
        f"INSERT INTO {table.name} ({', '.join(keys)}) VALUES ({_slots(table, 'v_', keys, dialect)}) "
        f"ON CONFLICT ({', '.join(unique)}) DO NOTHING RETURNING id"
    )


def row_params(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    return {f"v_{k}": _value(table.c[k], v) for k, v in values.items()}


@dataclass(frozen=True, slots=True)
class Positional:
    """A statement with `$n` parameters and their values in order (psycopg's raw cursor: no
    parsing of the SQL for its placeholders, which psycopg does anew for every statement longer
    than 4 kB or with more than 50 parameters), and its names, for a DB-API cursor (`named()`)."""

    sql: str
    names: tuple[str, ...]
    values: list[Any]

    def named(self) -> tuple[str, dict[str, Any]]:
        """The statement with `%(name)s` parameters, and their values by name."""
        sql = re.sub(r"\$(\d+)", lambda m: f"%({self.names[int(m.group(1)) - 1]})s", self.sql)
        return sql, dict(zip(self.names, self.values, strict=True))


_INSERTS: dict[Any, tuple[str, tuple[str, ...]]] = {}


def inserts_statement(
    dialect: Dialect,
    tables: Sequence[tuple[sa.Table, list[dict[str, Any]]]],
    *,
    events: list[dict[str, Any]],
    entries: list[dict[str, Any]],
    session: Session | None = None,
) -> Generator[Positional, list[tuple[Any, ...]], None]:
    """New rows of several tables (their ids among their values, drawn from the sequences by the
    caller's read) with their outbox rows (`outbox.values`) and audit entries (`audit.linked`),
    each table's rows one INSERT in a data-modifying CTE: one PostgreSQL statement, so all or
    nothing — yielded (`Positional`) to whoever runs it (api.pgwrite). A constraint's error
    (IntegrityError) is raised at the `yield`, nothing written. `session`: the statement ran on
    that session's connection, which then commits."""
    every = [(t, rows) for t, rows in (*tables, (_OUTBOX, events), (_AUDIT, entries)) if rows]
    shape = tuple((t.name, tuple(rows[0]), len(rows)) for t, rows in every)
    found = _INSERTS.get(shape)
    if found is None:
        parts, names = [], []
        for n, (table, rows) in enumerate(every):
            keys = tuple(rows[0])
            tuples = []
            for i in range(len(rows)):
                slots = []
                for k in keys:
                    names.append(f"i{n}_{i}_{k}")
                    slots.append(f"${len(names)}::{_cast(table.c[k], dialect)}")
                tuples.append(f"({', '.join(slots)})")
            parts.append(f"c{n} AS (INSERT INTO {table.name} ({', '.join(keys)}) VALUES {', '.join(tuples)})")
        if len(_INSERTS) > 512:
            _INSERTS.clear()
        found = _INSERTS[shape] = (f"WITH {', '.join(parts)} SELECT 1", tuple(names))
    values: list[Any] = []
    for table, rows in every:
        columns = [(k, table.c[k]) for k in rows[0]]
        for row in rows:
            values.extend(_value(c, row[k]) for k, c in columns)
    yield Positional(found[0], found[1], values)
    if session is not None:
        session.commit()  # the statements ran inside a session's transaction (tests share one)
