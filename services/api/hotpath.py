"""The lean read path: authenticated GET lists and details as `async def` routes, no threadpool hop.

A route takes `HotReader` (the principal) and hands `Reader.rows` a builder of its statement —
the same `visible_*(user)` builders the sync routes use, so scoping stays in one place and in SQL.

On PostgreSQL the statements run on the event loop, on async psycopg connections (autocommit, a
pool per event loop; THREADED switches to the sync pool's connections in one threadpool hop),
bounded by the per-loop semaphore of `api.deps._take_slot` that the sync routes take too: an api
worker uses at most `DUBAN_DB_POOL_SIZE + DUBAN_DB_MAX_OVERFLOW` connections at a time. SQLAlchemy
compiles the statement (once per shape); the rows come from the driver straight into dicts.
The principal comes from a process cache keyed by (user id, token generation) and is *checked in
the data statement itself*: the statement carries `EXISTS (the user, still active, with the token's
generation and the cached row version)`. A password change, disable, sign-out or role change
therefore ends a token at its very next request, with no extra round trip; an empty result makes
one more round trip to tell "nothing to see" from "no longer signed in" (401). A list page is one
round trip, a detail two (the row, its history). API keys resolve on the sync path (one threadpool
hop: the key's lookup and its last-use bookkeeping).

On SQLite — and wherever the app's `session_factory` is set (tests share one session) — the same
statements run on the sync engine in the threadpool (the sync path; no aiosqlite).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar, cast

import psycopg
import sqlalchemy as sa
from fastapi import Depends, Request
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel.sql.sqltypes import UTCDateTime
from starlette.concurrency import run_in_threadpool

from api.auth import usage
from api.deps import (
    NowDep,
    SessionFactory,
    SettingsDep,
    TokenDep,
    _api_key,
    _check_route_scope,
    _take_slot,
    _user_from_token,
    default_session_factory,
)
from api.security import check_token_times, verify_access_token
from duban import calendar, calendar_store
from duban.db import BoundedAsyncConnection, NetworkLimits, get_engine, session_scope
from duban.errors import DubanError, Unauthorized
from duban.models import User
from duban.settings import Settings, get_settings

_T = TypeVar("_T")
Build = Callable[[User], sa.Select[Any]]
Then = Callable[[], "sa.Select[Any] | Bound"]


class Template:
    """A statement built once per viewer scope with named parameters, and compiled once.

    Building a Select, taking its cache key and binding its values cost more CPU than running it
    (a detail's two statements: about a third of the request). A template is built the first time
    a scope asks for it — `build(user)` with `sa.bindparam(name)` where a request's values go —
    and a request then only supplies its values (`bind`). `scope(user)` must return every input
    of the user that `build` reads (the `visible_*` builders: `scope_key`), so that two users with
    the same key get the same statement.
    """

    def __init__(self, build: Build, *, scope: Callable[[User], Hashable] = lambda _user: None) -> None:
        self.build = build
        self.scope = scope

    def bind(self, **values: Any) -> Bound:
        return Bound(self, values)


@dataclass(frozen=True, slots=True)
class Bound:
    template: Template
    values: dict[str, Any]


_USER = User.__table__  # type: ignore[attr-defined]
_ME = _USER.alias("me")

# --- the async pools: one per event loop and database ------------------------------------------


class Pool:
    """psycopg async connections for one event loop and database: autocommit, sessions in UTC.

    As many as the per-loop semaphore admits (`api.deps._take_slot`, shared with the sync routes);
    idle ones are kept, a broken one is dropped with every idle one (a server restart fails one
    request each, as on the sync pool, then new connections are made). Every wait for the server
    ends after `DUBAN_DB_RESPONSE_TIMEOUT_SECONDS`, as on the sync pool (`db.BoundedAsyncConnection`).
    """

    def __init__(self, conninfo: str, settings: Settings) -> None:
        self._conninfo = conninfo
        args = NetworkLimits.from_settings(settings).connect_args()
        # UTC sessions: psycopg then returns every timestamptz as the UTC-aware datetime the models'
        # UTCDateTime would make of it, so rows may be taken from the driver as they are.
        # Plans as on the sync pool: psycopg prepares a statement run five times and PostgreSQL
        # may then keep a generic plan (docs/performance.md: on some data it is much slower).
        options = ["-c timezone=UTC"]
        args["options"] = " ".join([*options, *([args["options"]] if "options" in args else [])])
        self._args = args
        self._response = NetworkLimits.from_settings(settings).response or None
        self._size = settings.db_pool_size + settings.db_max_overflow
        self._idle: deque[psycopg.AsyncConnection[Any]] = deque()

    async def get(self) -> psycopg.AsyncConnection[Any]:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        try:
            conn = await BoundedAsyncConnection.connect(self._conninfo, autocommit=True, **self._args)
        except psycopg.Error as exc:
            raise DBAPIError.instance(None, None, exc, psycopg.Error, connection_invalidated=True) from exc
        conn.response_timeout = self._response
        return conn

    async def put(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if conn.broken or conn.closed:
            await self.clear()
        elif conn.info.transaction_status == TransactionStatus.IDLE and len(self._idle) < self._size:
            self._idle.append(conn)
            return
        await conn.close()

    async def clear(self) -> None:
        while self._idle:
            await self._idle.pop().close()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Pool]] = weakref.WeakKeyDictionary()


def _pool(request: Request) -> tuple[Pool, Dialect] | None:
    """The async pool for this request and the dialect to compile for, or None (the sync path)."""
    if getattr(request.app.state, "session_factory", None) is not None:
        return None
    sync = get_engine()
    if sync.dialect.name != "postgresql":
        return None
    url = _conninfo(sync)
    per_loop = _pools.get(asyncio.get_running_loop())
    if per_loop is None:
        per_loop = _pools[asyncio.get_running_loop()] = {}
    pool = per_loop.get(url)
    if pool is None:
        pool = per_loop[url] = Pool(url, get_settings())
    return pool, sync.dialect


_conninfos: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _conninfo(engine: Engine) -> str:
    # Rendering the URL took as long as a request's principal check: once per engine.
    url = _conninfos.get(engine)
    if url is None:
        url = _conninfos[engine] = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
    return url


async def close_pools() -> None:
    """Close this event loop's async connections (at shutdown, and in tests)."""
    for pool in _pools.pop(asyncio.get_running_loop(), {}).values():
        await pool.clear()


# --- the principal cache ----------------------------------------------------------------------

# Not a security bound: every statement re-checks the cached principal (see the module doc).
# Entries only save the user's lookup; they go after CACHE_SECONDS or when the cache is full.
CACHE_SECONDS = 60.0
CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Entry:
    user: User
    at: float


_principals: OrderedDict[tuple[int, int], _Entry] = OrderedDict()


def _cached(key: tuple[int, int], now: float) -> User | None:
    entry = _principals.get(key)
    if entry is None:
        return None
    if now - entry.at > CACHE_SECONDS:
        _principals.pop(key, None)
        return None
    return entry.user


def _remember(key: tuple[int, int], user: User, now: float) -> None:
    _principals[key] = _Entry(user, now)
    while len(_principals) > CACHE_SIZE:
        _principals.popitem(last=False)


def forget_principals() -> None:
    """Empty the caches (tests)."""
    _principals.clear()
    _tokens.clear()


# Tokens whose signature and claims were verified, by token and signing settings: verifying an
# HS256 JWT (python-jose) cost 0.19 ms a request, a fifth of the list's own CPU. The times (expiry,
# not-before) are still checked at every request; the generation and the user, in the statement.
_tokens: OrderedDict[tuple[str, ...], dict[str, Any]] = OrderedDict()


def _verified(token: str, settings: Settings) -> dict[str, Any]:
    key = (token, settings.secret_key, settings.jwt_algorithm, settings.jwt_audience, settings.jwt_issuer)
    claims = _tokens.get(key)
    if claims is None:
        claims = _tokens[key] = verify_access_token(token, settings=settings)
        while len(_tokens) > CACHE_SIZE:
            _tokens.popitem(last=False)
    return claims


def _principal_check(user: User, generation: int) -> Any:
    """True while the cached principal is still the stored one: active, same generation and row."""
    return sa.exists().where(
        _ME.c.id == user.id,
        _ME.c.token_generation == generation,
        _ME.c.version == user.version,
        _ME.c.is_active.is_(True),
    )


# The same check with parameters, for templates: one compiled statement for every principal.
_CHECK = sa.exists().where(
    _ME.c.id == sa.bindparam("me_id"),
    _ME.c.token_generation == sa.bindparam("me_generation"),
    _ME.c.version == sa.bindparam("me_version"),
    _ME.c.is_active.is_(True),
)


def _check_values(user: User, generation: int) -> dict[str, Any]:
    return {"me_id": user.id, "me_generation": generation, "me_version": user.version}


def _user_statement(user_id: int) -> sa.Select[Any]:
    return sa.select(_USER).where(_USER.c.id == user_id)


# The same look-up as a template (no statement built, no cache key taken a look-up).
_USER_BY_ID = Template(
    lambda _user: sa.select(_USER).where(_USER.c.id == sa.bindparam("user_id", type_=sa.Integer))
)


def _valid_user(row: dict[str, Any] | None, generation: int) -> User:
    # The same answers as api.deps._user_from_token.
    if row is None or not row["is_active"]:
        raise Unauthorized("账号不存在或已停用", code="auth.user_disabled")
    if row["token_generation"] != generation:
        raise Unauthorized("令牌已失效，请重新登录", code="auth.token_revoked")
    return User(**row)


# --- the reader -------------------------------------------------------------------------------


class Reader:
    """The request's principal and the way to run its statements (async, or the sync path)."""

    def __init__(
        self,
        request: Request,
        user: User,
        *,
        pool: tuple[Pool, Dialect] | None,
        settings: Settings,
        generation: int | None = None,
        factory: SessionFactory | None = None,
    ) -> None:
        self.request = request
        self.user = user
        self._pool = pool
        self._settings = settings
        # Set while the principal still has to be checked (it came from the cache).
        self._generation = generation
        self._factory = factory

    async def rows(self, build: Build | Bound, *then: Then) -> list[Sequence[Any]]:
        """The rows of `build(user)` (or of a bound template for the user), then of each of `then`
        (run only when the first found rows)."""
        if self._pool is None:
            return await self._sync_rows(build, then)
        if isinstance(build, Bound):
            return await self._template_rows(build, then)
        try:
            stmt = build(self.user)
        except DubanError:
            if self._generation is not None:  # a refused token is told so before a bad parameter
                async with self._connection() as conn:
                    await self._reload(conn)
            raise
        async with self._connection() as conn:
            if self._generation is not None:
                first = await _rows(conn, stmt.where(_principal_check(self.user, self._generation)))
                if not first:
                    before = self.user
                    await self._reload(conn)
                    if self.user.version != before.version:  # its roles or unit may have changed
                        first = await _rows(conn, build(self.user))
            else:
                first = await _rows(conn, stmt)
            out: list[Sequence[Any]] = [first]
            for more in then:
                out.append(await _rows(conn, _for(more(), self.user)) if first else [])
        return out

    @property
    def engine(self) -> Engine | None:
        """The engine the async path's statements run on (`in_session`'s too), or None on the sync
        path (its sessions come from the app's `session_factory`, or SQLite)."""
        return get_engine() if self._pool is not None else None

    async def in_session(self, work: Callable[[Any], _T]) -> _T:
        """`work(session)` in one threadpool hop on a read-only session of the request's kind (it
        takes a connection only if `work` runs a statement): a route's sync service code after
        its principal and first rows came from `rows`."""

        def run() -> _T:
            with self._session() as session:
                try:
                    return work(session)
                except BaseException:
                    session.rollback()  # as _sync_rows: nothing aborted left to a shared session
                    raise

        slots = await _take_slot(self._settings)
        try:
            return await run_in_threadpool(run)
        finally:
            slots.release()

    async def _template_rows(self, bound: Bound, then: Sequence[Then]) -> list[Sequence[Any]]:
        user = self.user
        rest = [lambda more=more: _for(more(), user) for more in then]
        async with self._connection() as conn:
            # The statements together: on the sync pool's connection, one threadpool hop for all.
            out = await _rows_in_turn(conn, _Checked(bound, user, self._generation), rest)
            if not out[0] and self._generation is not None:
                before = self.user
                await self._reload(conn)
                if self.user.version != before.version:  # its roles or unit may have changed
                    user = self.user
                    out = await _rows_in_turn(conn, _Checked(bound, user, None), rest)
        return out

    def _connection(self) -> AbstractAsyncContextManager[_Conn | _ThreadConn]:
        assert self._pool is not None
        return _connection(self._pool, self._settings)

    async def _reload(self, conn: _Conn | _ThreadConn) -> None:
        """Look the principal up again (401 when it no longer holds); the check is then done."""
        assert self._generation is not None
        self.user = await _load_principal(conn, (self.user.id or 0, self._generation))
        self._generation = None

    async def _sync_rows(self, build: Build | Bound, then: Sequence[Then]) -> list[Sequence[Any]]:
        def run(session: Any) -> list[Sequence[Any]]:
            first = session.execute(*_executable(build, self.user)).mappings().all()
            if not first:
                return [first, *[[] for _ in then]]
            return [first, *[session.execute(*_executable(t(), self.user)).mappings().all() for t in then]]

        # A refused statement (a DataError answered 422) leaves no aborted transaction behind,
        # whoever owns the session (tests share one): in_session rolls back, as get_session does.
        return await self.in_session(run)

    def _session(self) -> Any:
        return self._factory() if self._factory else default_session_factory(read_only=True)


async def _load_principal(conn: _Conn | _ThreadConn, key: tuple[int, int]) -> User:
    """The stored principal of a token's (user id, generation), remembered; 401 when it no longer holds."""
    _principals.pop(key, None)
    found = await _rows(conn, _Checked(_USER_BY_ID.bind(user_id=key[0]), None, None))
    user = _valid_user(found[0] if found else None, key[1])
    _remember(key, user, asyncio.get_running_loop().time())
    return user


# --- running a statement -----------------------------------------------------------------------

# Statements compiled once per shape (SQLAlchemy's cache key: the statement's structure, not its
# values), with the result conversion each column needs; a few dozen shapes in practice.
_compiled: OrderedDict[Any, Any] = OrderedDict()  # cache key → _Prepared
COMPILED_SIZE = 500
# Statements sent to the database by this path, for tests that count round trips.
statements_run = 0


def _converters_of(compiled: SQLCompiler, dialect: Dialect) -> list[Callable[[Any], Any] | None]:
    out: list[Callable[[Any], Any] | None] = []
    for column in cast("sa.Select[Any]", compiled.statement).selected_columns:
        type_ = column.type
        # The driver's own value already is what UTCDateTime returns (sessions in UTC: db.py).
        if isinstance(type_, UTCDateTime):
            out.append(None)
        else:
            out.append(type_.dialect_impl(dialect).result_processor(dialect, None))
    return out


@dataclass(frozen=True, slots=True)
class _Checked:
    """A bound template for a user, with the principal's check when `generation` is set."""

    bound: Bound
    user: User | None  # None: a template that reads nothing of the viewer (the principal's look-up)
    generation: int | None

    def values(self) -> dict[str, Any]:
        if self.generation is None or self.user is None:
            return self.bound.values
        return {**self.bound.values, **_check_values(self.user, self.generation)}


Query = sa.Select[Any] | _Checked
_Prepared = tuple[SQLCompiler, list[Callable[[Any], Any] | None], list[bool]]
# Per template and viewer scope: the compiled form and the scope's own values for it (a unit
# head's unit, ...: the statement's anonymous parameters, in the order of its cache key).
_templates: OrderedDict[Any, tuple[_Prepared, Sequence[Any] | None]] = OrderedDict()


def _template_statement(query: _Checked) -> sa.Select[Any]:
    stmt = query.bound.template.build(cast(User, query.user))
    return stmt.where(_CHECK) if query.generation is not None else stmt


def _for(query: sa.Select[Any] | Bound, user: User) -> Query:
    return _Checked(query, user, None) if isinstance(query, Bound) else query


def _executable(query: Build | sa.Select[Any] | Bound, user: User) -> tuple[Any, ...]:
    """What Session.execute takes for a statement, a builder or a bound template (the sync path)."""
    if isinstance(query, Bound):
        return (query.template.build(user), query.values)
    if isinstance(query, sa.Select):
        return (query,)
    return (query(user),)


def _prepared(stmt: sa.Select[Any], dialect: Dialect) -> tuple[_Prepared, Sequence[Any] | None]:
    """`stmt` compiled, shared by every statement of its shape (SQLAlchemy's cache key: its
    structure, not its values), and its own values for the shared form."""
    key = stmt._generate_cache_key()
    entry = _compiled.get(key.key) if key is not None else None
    if entry is None:
        compiled = stmt.compile(dialect=dialect, cache_key=key)
        entry = (compiled, _converters_of(compiled, dialect), _utc_columns(stmt))
        if key is not None:
            _compiled[key.key] = entry
            while len(_compiled) > COMPILED_SIZE:
                _compiled.popitem(last=False)
    return entry, key.bindparams if key is not None else None


def _compiled_template(query: _Checked, dialect: Dialect) -> tuple[_Prepared, Sequence[Any] | None]:
    # Built once per viewer scope, compiled once per shape: every unit head's detail differs only
    # in the value of its unit, so the 200 units of a county share one compiled statement (a
    # compile cost about ten requests' CPU, and a worker met each unit's first request in turn).
    template = query.bound.template
    key = (id(template), template.scope(cast(User, query.user)), query.generation is not None, dialect.name)
    entry = _templates.get(key)
    if entry is None:
        entry = _templates[key] = _prepared(_template_statement(query), dialect)
        while len(_templates) > COMPILED_SIZE:
            _templates.popitem(last=False)
    return entry


def _compile(query: Query, dialect: Dialect) -> tuple[str, dict[str, Any], list[Any], list[bool]]:
    """SQL, parameters, result conversions and UTC columns of `query`, as SQLAlchemy would run it."""
    if isinstance(query, _Checked):
        (compiled, converters, utc), extracted = _compiled_template(query, dialect)
        # The request's values by name; the scope's own (anonymous) ones from its statement.
        params = compiled.construct_params(params=query.values(), extracted_parameters=extracted)
    else:
        (compiled, converters, utc), extracted = _prepared(query, dialect)
        params = compiled.construct_params(extracted_parameters=extracted)
    processors: Mapping[str, Any]
    parameters: Mapping[str, Any] = params
    if compiled.post_compile_params or compiled.literal_execute_params:
        state = compiled.construct_expanded_state(params)  # IN lists: one parameter per value
        sql, processors, parameters = state.statement, state.processors, state.parameters
    else:  # what the expanded state would be, without building the parameters a second time
        sql, processors = compiled.string, cast("Mapping[str, Any]", compiled._bind_processors)
    values = {k: processors[k](v) if k in processors else v for k, v in parameters.items()}
    return sql, values, converters, utc


# Result column names by SQL text, from the first execution's cursor description (building it
# makes a Column object per column and row set).
_names: OrderedDict[str, list[str]] = OrderedDict()


def _names_of(sql: str, cursor: Any) -> list[str]:
    names = _names.get(sql)
    if names is None:
        names = _names[sql] = [d.name for d in cursor.description or ()]
        while len(_names) > COMPILED_SIZE:
            _names.popitem(last=False)
    return names


@dataclass(frozen=True, slots=True)
class _Conn:
    raw: psycopg.AsyncConnection[Any]
    dialect: Dialect


# True: the statements on the sync pool's connections, in one threadpool hop. Off: the hop and its
# thread hand-offs cost more CPU than the async driver's waits (docs/performance.md: 3.1 against
# 2.5 ms of server CPU a detail, load 6-7; at one client 80 against 98 req/s, load 10). The
# collapse measured with it at 17:18 UTC is not seen with the compiled templates and the one
# connection budget (see the docs).
THREADED = False


def _prepare(query: Query) -> bool | None:
    """psycopg's `prepare` for a statement: its default (prepared from the fifth execution) for a
    template, never for a statement built per request. A list page's values decide its plan: once
    prepared, PostgreSQL's generic plan for a unit's open page (the unit, the states and LIMIT as
    parameters) took 61 ms against 11 ms planned for the values on the county data (00:37 UTC), and
    the list ran at a quarter of the bare server's rate, bound by the database."""
    return None if isinstance(query, _Checked) else False


def _to_utc(value: Any) -> Any:
    return value.astimezone(UTC) if value is not None else None


class _ThreadConn:
    """A connection of the sync pool, autocommit while held, its statements run in a thread."""

    def __init__(self, engine: Engine, dialect: Dialect) -> None:
        self._engine = engine
        self.dialect = dialect
        self._fairy: Any = None

    def _raw(self) -> psycopg.Connection[Any]:
        if self._fairy is None:
            self._fairy = self._engine.raw_connection()
            self._fairy.driver_connection.autocommit = True
        raw: psycopg.Connection[Any] = self._fairy.driver_connection
        return raw

    def rows(self, query: Query) -> list[dict[str, Any]]:
        global statements_run
        sql, values, converters, utc_columns = _compile(query, self.dialect)
        raw = self._raw()
        # The session's zone is the server's: timestamps are converted unless it is UTC already.
        utc = raw.info.timezone.utcoffset(None) == timedelta(0) and str(raw.info.timezone) in _UTC_NAMES
        if not utc:
            converters = [f or (_to_utc if u else None) for f, u in zip(converters, utc_columns, strict=True)]
        try:
            with raw.cursor() as cursor:
                statements_run += 1
                cursor.execute(sql, values, prepare=_prepare(query))
                names = _names_of(sql, cursor)
                records = cursor.fetchall()
        except psycopg.Error as exc:
            raise DBAPIError.instance(
                sql, values, exc, psycopg.Error, connection_invalidated=raw.broken or raw.closed
            ) from exc
        return _dicts(names, records, converters)

    def rows_in_turn(self, first: Query, rest: Sequence[Callable[[], Query]]) -> list[Sequence[Any]]:
        out: list[Sequence[Any]] = [self.rows(first)]
        return out + [self.rows(more()) if out[0] else [] for more in rest]

    def close(self) -> None:
        if self._fairy is not None:
            raw = self._fairy.driver_connection
            if not raw.closed and not raw.broken:
                raw.autocommit = False
            else:
                self._fairy.invalidate()
            self._fairy.close()
            self._fairy = None


_UTC_NAMES = {
    "UTC",
    "Etc/UTC",
    "Etc/UCT",
    "UCT",
    "Zulu",
    "Etc/Zulu",
    "Universal",
    "Etc/Universal",
    "GMT",
    "Etc/GMT",
}


def _utc_columns(stmt: sa.Select[Any]) -> list[bool]:
    return [isinstance(c.type, UTCDateTime) for c in stmt.selected_columns]


def _dicts(
    names: list[str], records: list[Any], converters: list[Callable[[Any], Any] | None]
) -> list[dict[str, Any]]:
    if any(converters):
        pairs = [(i, f) for i, f in enumerate(converters) if f is not None]
        rows = []
        for record in records:
            row = list(record)
            for i, f in pairs:
                row[i] = f(row[i])
            rows.append(dict(zip(names, row, strict=True)))
        return rows
    return [dict(zip(names, record, strict=True)) for record in records]


async def _rows(conn: _Conn | _ThreadConn, query: Query) -> list[dict[str, Any]]:
    """The rows of `stmt` as dicts, straight from the driver.

    SQLAlchemy compiles (once per shape) and binds; the statement then runs on the psycopg
    connection itself. SQLAlchemy's result machinery — adapting the cached result metadata to
    each new statement object, a processor call per value — cost more than the query on a
    100-row page; values are converted only for the types whose processor changes what psycopg
    returns (none in the lists: timestamps come in UTC, JSON is parsed by the driver).
    """
    global statements_run
    if isinstance(conn, _ThreadConn):
        return await run_in_threadpool(conn.rows, query)
    sql, values, converters, _ = _compile(query, conn.dialect)
    try:
        async with conn.raw.cursor() as cursor:
            statements_run += 1
            await cursor.execute(sql, values, prepare=_prepare(query))
            names = _names_of(sql, cursor)
            records = await cursor.fetchall()
    except psycopg.Error as exc:
        # As SQLAlchemy raises it (api.errors answers 503 when the database did not answer).
        raise DBAPIError.instance(
            sql, values, exc, psycopg.Error, connection_invalidated=conn.raw.broken or conn.raw.closed
        ) from exc
    return _dicts(names, records, converters)


async def _rows_in_turn(
    conn: _Conn | _ThreadConn, first: Query, rest: Sequence[Callable[[], Query]]
) -> list[Sequence[Any]]:
    """The rows of `first`, then of each of `rest` while `first` found rows (else empty lists)."""
    if isinstance(conn, _ThreadConn):
        return await run_in_threadpool(conn.rows_in_turn, first, rest)
    out: list[Sequence[Any]] = [await _rows(conn, first)]
    for more in rest:
        out.append(await _rows(conn, more()) if out[0] else [])
    return out


@asynccontextmanager
async def _connection(of: tuple[Pool, Dialect], settings: Settings) -> AsyncIterator[_Conn | _ThreadConn]:
    """A connection for the request's statements, holding one of the worker's slots meanwhile."""
    pool, dialect = of
    if THREADED:
        slots = await _take_slot(settings)
        tconn = _ThreadConn(get_engine(), dialect)
        try:
            if calendar_store.check_due():
                await _check_calendar(tconn)
            yield tconn
        finally:
            tconn.close()
            slots.release()
        return
    slots = await _take_slot(settings)
    try:
        raw = await pool.get()
        try:
            conn = _Conn(raw, dialect)
            if calendar_store.check_due():
                await _check_calendar(conn)
            yield conn
        finally:
            await pool.put(raw)
    finally:
        slots.release()


async def _check_calendar(conn: _Conn | _ThreadConn) -> None:
    found = await _rows(conn, calendar_store.stamp_statement())
    stamp = found[0]["stamp"] if found else None
    if stamp is not None and stamp != calendar.current().stamp:
        await run_in_threadpool(_refresh_calendar, get_engine())


def _refresh_calendar(engine: Engine) -> None:
    with engine.connect() as conn:
        calendar_store.refresh(conn)


# --- the dependency ---------------------------------------------------------------------------


def _sync_principal(
    request: Request, factory: SessionFactory | None, token: str | None, settings: Settings, now: datetime
) -> User:
    """api.deps.get_current_user without FastAPI: API keys, and bearer tokens on the sync path."""
    api_key = request.headers.get("x-api-key")
    with factory() if factory else session_scope() as session:
        if api_key:
            record, user = _api_key(session, api_key, settings, now)
            usage.mark_used(
                session, record=record, address=request.client.host if request.client else "", now=now
            )
            user.__dict__["api_scopes"] = frozenset(record.scopes)
            return user
        if not token:
            raise Unauthorized(headers={"WWW-Authenticate": "Bearer"})
        return _user_from_token(session, token, settings, now)


async def hot_reader(request: Request, token: TokenDep, settings: SettingsDep, now: NowDep) -> Reader:
    """The principal of an `async def` read route (replaces `CurrentUser` there)."""
    pool = _pool(request)
    factory: SessionFactory | None = getattr(request.app.state, "session_factory", None)
    if pool is None or request.headers.get("x-api-key"):
        # The sync path: one threadpool hop, the lookups of api.deps.get_current_user.
        slots = await _take_slot(settings)
        try:
            user = await run_in_threadpool(_sync_principal, request, factory, token, settings, now)
        finally:
            slots.release()
        reader = Reader(request, user, pool=pool, settings=settings, factory=factory)
    else:
        if not token:
            raise Unauthorized(headers={"WWW-Authenticate": "Bearer"})
        claims = check_token_times(_verified(token, settings), now=now)
        try:
            key = (int(claims["sub"]), int(claims["gen"]))
        except (TypeError, ValueError) as exc:
            raise Unauthorized("令牌无效", code="auth.invalid_token") from exc
        clock = asyncio.get_running_loop().time()
        cached = _cached(key, clock)
        if cached is not None:
            reader = Reader(request, cached, pool=pool, settings=settings, generation=key[1])
        else:
            # Looked up before the reader is made: no placeholder User (building one, its
            # defaults' factories inspected by pydantic, cost more than the look-up).
            async with _connection(pool, settings) as conn:
                user = await _load_principal(conn, key)
            reader = Reader(request, user, pool=pool, settings=settings)
    if reader.user.is_service_account:
        _check_route_scope(request, reader.user)
    request.state.user_id = reader.user.id
    return reader


HotReader = Annotated[Reader, Depends(hot_reader)]
