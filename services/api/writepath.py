"""The lean write path: the busiest writes as `async def` routes doing their transaction in one
threadpool hop, on SQLAlchemy Core (no ORM identity map, no flush), through `duban.uow`.

A route takes a `Writer` (the principal, checked for its roles as `require_roles` does) and hands
`Writer.run` the work: a function of (session, user) that loads in scope, checks the state and
writes through a unit of work (`update_row` / `insert_row`: version-checked, audited, events into
the outbox, one commit), then builds its response from what it has in hand.

The principal comes from the process caches of the hot read path (`api.hotpath`: verified
tokens, users by id and token generation) and is checked again inside the write's own transaction
by one statement, the user's row: a disabled account, a bumped token generation (sign-out,
password change) or a changed row (roles, unit) is seen at its very next request, and the roles
are then checked again on the stored row. API keys, SQLite and tests that share one session take
the same work through the same code; only the principal's look-up differs (api.deps).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.engine import Dialect, Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import hotpath
from api.deps import (
    SessionFactory,
    TokenDep,
    _check_route_scope,
    _take_slot,
    api_scopes,
    default_session_factory,
)
from api.hotpath import _cached, _pool, _remember, _sync_principal, _user_statement, _valid_user, _verified
from api.pgwrite import On, Read, Steps, check_calendar, compile_read, drive, drive_async
from api.security import check_token_times
from duban.db import get_engine
from duban.errors import Forbidden, Unauthorized
from duban.models import User
from duban.settings import Settings, get_settings

T = TypeVar("T")
# A lean write's work on PostgreSQL (api.pgwrite): where it runs, the principal, the principal's
# check for its first statement (or None) → its statements and its answer.
PgWork = Callable[["On", User, dict[str, Any] | None], "Steps[T]"]
_USER = User.__table__  # type: ignore[attr-defined]
_USER_BY_ID = sa.select(_USER).where(_USER.c.id == sa.bindparam("user_id", type_=sa.Integer()))


class Writer:
    """The principal of a lean write route and the way to run its transaction."""

    def __init__(
        self,
        request: Request,
        user: User,
        *,
        roles: tuple[str, ...],
        scope: str | None,
        settings: Settings,
        generation: int | None,
    ) -> None:
        self.request = request
        self.user = user
        self._roles = roles
        self._scope = scope
        self._settings = settings
        self._generation = generation  # set while the cached principal is to be checked
        self._factory: SessionFactory | None = getattr(request.app.state, "session_factory", None)
        self._reloaded = False
        self._generation_seen = generation or 0

    async def run(
        self,
        work: Callable[[Session, User], T],
        *,
        guarded: bool = False,
        pg: PgWork[T] | None = None,
    ) -> T:
        """`work(session, user)` in one threadpool hop, holding a connection slot meanwhile.

        `guarded`: the work's first statement goes through `first_row`, which checks a cached
        principal in that statement itself; otherwise it is checked by a statement of its own.
        `pg`: the same work on PostgreSQL as its own statements (`api.pgwrite`): given where it
        runs, the principal and the principal's check to ride in its first statement (or None),
        raising `Unconfirmed` when that statement finds nothing. It runs on the event loop's async
        connection (no threadpool hop); SQLite, and tests' shared session, take the hop."""
        try:
            pool = _pool(self.request) if pg is not None and not hotpath.THREADED else None
            if pool is not None:
                async with hotpath._connection(pool, self._settings) as conn:
                    assert isinstance(conn, hotpath._Conn)
                    return await self._run_async(conn, pg, guarded)  # type: ignore[arg-type]
            slots = await _take_slot(self._settings)
            try:
                return await run_in_threadpool(self._run, work, guarded, pg)
            finally:
                slots.release()
        finally:
            if self._reloaded:
                self._reloaded = False
                _remember(
                    (self.user.id or 0, self._generation_seen), self.user, asyncio.get_running_loop().time()
                )

    async def _run_async(self, conn: hotpath._Conn, pg: PgWork[T], guarded: bool) -> T:
        on = On(conn.dialect)
        if self._generation is not None and guarded:
            try:
                return await drive_async(pg(on, self.user, self._check_values()), conn.raw)
            except Unconfirmed:
                self._judge(await drive_async(_stored_user(on.dialect, self.user), conn.raw))
                return await drive_async(pg(on, self.user, None), conn.raw)
        if self._generation is not None:
            self._judge(await drive_async(_stored_user(on.dialect, self.user), conn.raw))
        return await drive_async(pg(on, self.user, None), conn.raw)

    def _run(self, work: Callable[[Session, User], T], guarded: bool, pg: PgWork[T] | None) -> T:
        if pg is not None and self._factory is None:
            engine = get_engine()
            if engine.dialect.name == "postgresql":
                return self._run_pooled(engine, pg, guarded)
        manager = self._factory() if self._factory else default_session_factory()
        session = manager.__enter__()
        try:
            if pg is not None and session.get_bind().dialect.name == "postgresql":
                # Tests' shared session: the statements on its connection, inside its transaction.
                conn = session.connection()
                raw = conn.connection.driver_connection
                result = self._run_pg(On(conn.dialect, session), raw, conn, pg, guarded)  # type: ignore[arg-type]
            elif self._generation is not None and guarded:
                session.info[_PENDING] = self._check_values()
                try:
                    result = work(session, self.user)
                except Unconfirmed:
                    # Nothing to see, or no longer this principal: its row decides (401, 403, or
                    # the work again with the stored principal, whose answer is then the answer).
                    session.info.pop(_PENDING, None)
                    self._check(session)
                    result = work(session, self.user)
                finally:
                    session.info.pop(_PENDING, None)
            else:
                if self._generation is not None:
                    self._check(session)
                result = work(session, self.user)
        except BaseException as exc:
            session.rollback()  # whoever owns the session: nothing half-written is left behind
            manager.__exit__(type(exc), exc, exc.__traceback__)
            raise
        manager.__exit__(None, None, None)
        return result

    def _run_pooled(self, engine: Engine, pg: PgWork[T], guarded: bool) -> T:
        """`pg` on a connection of the sync pool in autocommit (hotpath.THREADED)."""
        fairy = engine.raw_connection()
        raw: psycopg.Connection[Any] = fairy.driver_connection  # type: ignore[assignment]
        try:
            raw.autocommit = True
            check_calendar(raw, engine.dialect)
            return self._run_pg(On(engine.dialect), raw, None, pg, guarded)
        finally:
            if raw.closed or raw.broken:
                fairy.invalidate()
            else:
                raw.autocommit = False
            fairy.close()

    def _run_pg(
        self, on: On, raw: psycopg.Connection[Any], via: sa.Connection | None, pg: PgWork[T], guarded: bool
    ) -> T:
        if self._generation is not None and guarded:
            try:
                return drive(pg(on, self.user, self._check_values()), raw, via)
            except Unconfirmed:
                self._judge(drive(_stored_user(on.dialect, self.user), raw, via))
                return drive(pg(on, self.user, None), raw, via)
        if self._generation is not None:
            self._judge(drive(_stored_user(on.dialect, self.user), raw, via))
        return drive(pg(on, self.user, None), raw, via)

    def _check_values(self) -> dict[str, Any]:
        return {
            "me_id": self.user.id,
            "me_generation": self._generation,
            "me_version": self.user.version,
            "me_username": self.user.username,
            "me_unit_id": self.user.unit_id,
        }

    def _check(self, session: Session) -> None:
        """The cached principal against its stored row, in the write's transaction."""
        assert self._generation is not None
        row = session.connection().execute(_USER_BY_ID, {"user_id": self.user.id or 0}).mappings().first()
        self._judge(dict(row) if row is not None else None)

    def _judge(self, row: dict[str, Any] | None) -> None:
        assert self._generation is not None
        # The stored row must be the cached copy field by field (not only its version): then the
        # copy is the principal, whatever happened to the id (a reused SQLite id, another database).
        if row is None or any(getattr(self.user, k) != v for k, v in row.items()):
            self.user = _valid_user(row, self._generation)
            self._reloaded = True  # cached again on the event loop, after the hop
            if not _admits(self.user, self._roles, self._scope):
                raise _refused(self._roles, self._scope)
        elif not row["is_active"]:
            raise Unauthorized("账号不存在或已停用", code="auth.user_disabled")
        elif row["token_generation"] != self._generation:
            raise Unauthorized("令牌已失效，请重新登录", code="auth.token_revoked")


@functools.cache
def _user_read(dialect: Dialect) -> Read:
    return compile_read(_USER_BY_ID, dialect)


def _stored_user(dialect: Dialect, user: User) -> Steps[dict[str, Any] | None]:
    """The principal's stored row (or None), for `Writer._judge`."""
    rows = yield _user_read(dialect).bind({"user_id": user.id})
    return rows[0] if rows else None


_PENDING = "api.writepath.principal"  # session.info: the cached principal's check, not made yet
_ME = _USER.alias("me")
# True while the cached principal is still the stored one (as the hot reads check it).
_PRINCIPAL = sa.exists().where(
    _ME.c.id == sa.bindparam("me_id", type_=sa.Integer()),
    _ME.c.token_generation == sa.bindparam("me_generation", type_=sa.Integer()),
    _ME.c.version == sa.bindparam("me_version", type_=sa.Integer()),
    _ME.c.username == sa.bindparam("me_username", type_=sa.String()),
    sa.or_(
        _ME.c.unit_id == sa.bindparam("me_unit_id", type_=sa.Integer()),
        sa.and_(_ME.c.unit_id.is_(None), sa.bindparam("me_unit_id", type_=sa.Integer()).is_(None)),
    ),
    _ME.c.is_active.is_(True),
)
_GUARDED: dict[int, tuple[sa.Select[Any], sa.Select[Any]]] = {}


def scoped_read(
    cache: dict[tuple[int, bool, str], Any],
    stmt: sa.Select[Any],
    *,
    guarded: bool,
    dialect: Dialect,
    wrap: Callable[[str], str] | None = None,
    extra: Sequence[Any] = (),
) -> Read:
    """A lean write's first statement: the viewer's scoped `stmt` (with the principal's check when
    `guarded`), compiled once per scope statement and kept in `cache` (the caller's, per shape)."""
    key = (id(stmt), guarded, dialect.name)
    found = cache.get(key)
    if found is None or found[0] is not stmt:  # ids are reused once a statement is gone
        target = stmt.where(_PRINCIPAL) if guarded else stmt
        found = cache[key] = (stmt, compile_read(target, dialect, wrap=wrap, extra=extra))
    read: Read = found[1]
    return read


class Unconfirmed(Exception):
    """The guarded first statement found nothing: the principal's row is to be looked at."""


def first_row(session: Session, stmt: sa.Select[Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """The first row of `stmt` (a statement built once) as a dict. Inside `Writer.run(...,
    guarded=True)` with a cached principal, the statement also checks that principal (one round
    trip for both); finding nothing, it raises `Unconfirmed` and the writer decides on the row."""
    check = session.info.get(_PENDING)
    conn = session.connection()
    if check is None:
        found = conn.execute(stmt, params).mappings().first()
        return dict(found) if found is not None else None
    entry = _GUARDED.get(id(stmt))
    if entry is None or entry[0] is not stmt:
        if len(_GUARDED) > 4096:
            _GUARDED.clear()
        entry = _GUARDED[id(stmt)] = (stmt, stmt.where(_PRINCIPAL))
    found = conn.execute(entry[1], {**params, **check}).mappings().first()
    if found is None:
        raise Unconfirmed
    session.info.pop(_PENDING, None)  # checked: the rest of the work runs as it is
    return dict(found)


def _admits(user: User, roles: tuple[str, ...], scope: str | None) -> bool:
    if user.is_service_account:
        return scope is not None and scope in api_scopes(user)
    return user.has_role(*roles)


def _refused(roles: tuple[str, ...], scope: str | None) -> Forbidden:
    return Forbidden(details={"required_roles": list(roles), "required_scope": scope})


def writer(*roles: str, scope: str | None = None) -> Callable[..., Awaitable[Writer]]:
    """The dependency of a lean write route: the principal holding one of `roles` (or a service
    account with `scope`), as `api.deps.require_roles` admits them, and its `Writer`."""

    async def dependency(request: Request, token: TokenDep) -> Writer:
        settings = get_settings()
        now: datetime = (getattr(request.app.state, "clock", None) or _clock()).now()
        factory: SessionFactory | None = getattr(request.app.state, "session_factory", None)
        generation: int | None = None
        user: User | None = None
        if not request.headers.get("x-api-key") and token:
            claims = check_token_times(_verified(token, settings), now=now)
            try:
                key = (int(claims["sub"]), int(claims["gen"]))
            except (TypeError, ValueError) as exc:
                raise Unauthorized("令牌无效", code="auth.invalid_token") from exc
            user = _cached(key, asyncio.get_running_loop().time())
            generation = key[1]
            if user is not None and not _admits(user, roles, scope):
                user = None  # refused on a cached copy: decided on the stored row
        if user is None:
            slots = await _take_slot(settings)
            try:
                if generation is not None:
                    # Looked up as the hot reads do (a detached copy, cached): checked, no re-check.
                    user = await run_in_threadpool(_load_principal, factory, key)
                    _remember(key, user, asyncio.get_running_loop().time())
                    generation = None
                else:  # API keys, or no credential at all: api.deps.get_current_user's look-ups
                    user = await run_in_threadpool(_sync_principal, request, factory, token, settings, now)
            finally:
                slots.release()
        if user.is_service_account:
            _check_route_scope(request, user)
        if not _admits(user, roles, scope):
            raise _refused(roles, scope)
        request.state.user_id = user.id
        return Writer(request, user, roles=roles, scope=scope, settings=settings, generation=generation)

    dependency.__name__ = f"write_{'_'.join(roles) or 'none'}"
    # Read by api.auth.scopes, as on require_roles: the route's declared scope (None: humans only).
    dependency.required_scope = scope  # type: ignore[attr-defined]
    return dependency


def _load_principal(factory: SessionFactory | None, key: tuple[int, int]) -> User:
    with factory() if factory else default_session_factory(read_only=True) as session:
        row = session.connection().execute(_user_statement(key[0])).mappings().first()
        return _valid_user(dict(row) if row else None, key[1])


def _clock() -> Any:
    from duban.clock import get_clock

    return get_clock()


def rows(session: Session, stmt: sa.Executable) -> list[dict[str, Any]]:
    """The rows of a Core statement as dicts (the connection's, not the ORM's, execution)."""
    return [dict(r) for r in session.connection().execute(stmt).mappings()]
