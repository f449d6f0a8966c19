from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from api.auth import usage
from api.auth.scopes import required_scopes
from api.security import decode_access_token, hash_token
from duban.clock import Clock, get_clock
from duban.db import session_scope
from duban.errors import Forbidden, Unauthorized
from duban.models import ApiKey, Role, User
from duban.settings import Settings, get_settings

_T = TypeVar("_T")

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

SessionFactory = Callable[..., AbstractContextManager[Session]]


def default_session_factory(read_only: bool = False) -> AbstractContextManager[Session]:
    return session_scope(read_only=read_only)


# Cheap dependencies are `async def` on purpose: FastAPI runs every sync dependency in the
# threadpool, and each hop costs a GIL hand-off; a request should make as few as it can.


# Requests that may hold a connection at once, per event loop: as many as the pool holds.
# Without this bound, requests beyond the pool's size each block a threadpool thread waiting for a
# connection; once those waiters hold every thread, the requests that do hold a connection cannot
# get a thread to run their route or to close their session, and all of them stall until the pool
# timeout (a burst of 503s under 64 clients on a pool of 5). Waiting here costs no thread.
# The async read pool (api.hotpath) takes the same slots: one budget of connections in use.
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


async def _take_slot(settings: Settings, pool: str = "sync") -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    per_pool = _slots.get(loop)
    if per_pool is None:
        per_pool = _slots[loop] = {}
    slots = per_pool.get(pool)
    if slots is None:
        slots = per_pool[pool] = asyncio.Semaphore(settings.db_pool_size + settings.db_max_overflow)
    if not slots.locked():  # a free slot: taken at once, without a timer
        await slots.acquire()
        return slots
    try:
        await asyncio.wait_for(slots.acquire(), timeout=settings.db_pool_timeout_seconds)
    except TimeoutError as exc:
        raise PoolTimeoutError("every database connection of this process is busy") from exc
    return slots


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Opens and closes; the service commits (see STYLE: commit before the response)."""
    slots = await _take_slot(get_settings())
    try:
        factory: SessionFactory | None = getattr(request.app.state, "session_factory", None)
        # GET and HEAD never write: they run on autocommit connections (no BEGIN/ROLLBACK).
        read_only = request.method in ("GET", "HEAD")
        manager = factory() if factory else default_session_factory(read_only=read_only)
        session = manager.__enter__()  # creating a Session does no I/O; the connection is taken lazily
        try:
            yield session
        except BaseException as exc:
            # Leave no half-written state behind, whoever owns the session's lifetime.
            await run_in_threadpool(_close, manager, session, exc)
            raise
        else:
            await run_in_threadpool(_close, manager, session, None)
    finally:
        slots.release()


def _close(manager: AbstractContextManager[Session], session: Session, exc: BaseException | None) -> None:
    if exc is not None:
        session.rollback()
        manager.__exit__(type(exc), exc, exc.__traceback__)
    else:
        manager.__exit__(None, None, None)


def _run(manager: AbstractContextManager[Session], work: Callable[[Session], _T]) -> _T:
    session = manager.__enter__()
    try:
        result = work(session)
    except BaseException as exc:
        _close(manager, session, exc)
        raise
    _close(manager, session, None)
    return result


async def run_in_session(request: Request, work: Callable[[Session], _T], *, read_only: bool = False) -> _T:
    """`work(session)` in the threadpool on a session of its own, holding a connection slot only
    meanwhile: for a route that must not keep a slot through slow work of its own between two
    short transactions (the login's password check)."""
    slots = await _take_slot(get_settings())
    try:
        factory: SessionFactory | None = getattr(request.app.state, "session_factory", None)
        manager = factory() if factory else default_session_factory(read_only=read_only)
        return await run_in_threadpool(_run, manager, work)
    finally:
        slots.release()


async def clock_dep(request: Request) -> Clock:
    return getattr(request.app.state, "clock", None) or get_clock()


async def now_dep(clock: Annotated[Clock, Depends(clock_dep)]) -> datetime:
    return clock.now()


async def settings_dep() -> Settings:
    return get_settings()


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(clock_dep)]
NowDep = Annotated[datetime, Depends(now_dep)]
SettingsDep = Annotated[Settings, Depends(settings_dep)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def _api_key(session: Session, key: str, settings: Settings, now: datetime) -> tuple[ApiKey, User]:
    record = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(key, settings))).first()
    # A rotated key works until its expiry (the overlap), like any expiring key.
    if record is None or record.revoked_at is not None or (record.expires_at and record.expires_at <= now):
        raise Unauthorized("API 密钥无效、已过期或已吊销", code="auth.invalid_api_key")
    user = session.get(User, record.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("服务账号已停用", code="auth.user_disabled")
    return record, user


def _user_from_api_key(session: Session, key: str, settings: Settings, now: datetime) -> User:
    record, user = _api_key(session, key, settings, now)
    user.__dict__["api_scopes"] = frozenset(record.scopes)
    return user


def _user_from_token(session: Session, token: str, settings: Settings, now: datetime) -> User:
    claims = decode_access_token(token, settings=settings, now=now)
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthorized("令牌无效", code="auth.invalid_token") from exc
    # The one lookup a request makes anyway carries the token policy: a bumped generation
    # (password change, reset, disable, sign-out) ends the token.
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("账号不存在或已停用", code="auth.user_disabled")
    if claims["gen"] != user.token_generation:
        raise Unauthorized("令牌已失效，请重新登录", code="auth.token_revoked")
    return user


def get_current_user(
    request: Request, session: SessionDep, token: TokenDep, settings: SettingsDep, now: NowDep
) -> User:
    api_key = request.headers.get("x-api-key")
    user: User | None
    if api_key:
        record, user = _api_key(session, api_key, settings, now)
        usage.mark_used(
            session, record=record, address=request.client.host if request.client else "", now=now
        )
        user.__dict__["api_scopes"] = frozenset(record.scopes)
    else:
        if not token:
            raise Unauthorized(headers={"WWW-Authenticate": "Bearer"})
        user = _user_from_token(session, token, settings, now)
    if user.is_service_account:
        _check_route_scope(request, user)
    request.state.user_id = user.id
    return user


def principal_of(
    session: Session, *, headers: dict[bytes, bytes], settings: Settings, now: datetime
) -> int | None:
    """The id of the user or service account the raw headers authenticate, or None (api.idempotency)."""
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    try:
        if api_key:
            return _user_from_api_key(session, api_key, settings, now).id
        if scheme.lower() == "bearer" and token.strip():
            return _user_from_token(session, token.strip(), settings, now).id
    except Unauthorized:
        return None
    return None


CurrentUser = Annotated[User, Depends(get_current_user)]


def _check_route_scope(request: Request, user: User) -> None:
    """Deny by default: a service account reaches only routes that declare a scope its key holds."""
    needed = required_scopes(request.scope.get("route"))
    if needed is None:
        raise Forbidden("服务账号不能调用此接口", code="auth.scope_required")
    missing = sorted(needed - api_scopes(user))
    if missing:
        raise Forbidden(
            "API 密钥缺少所需的权限范围", code="auth.scope_required", details={"required_scope": missing}
        )


def api_scopes(user: User) -> frozenset[str]:
    scopes: frozenset[str] = user.__dict__.get("api_scopes", frozenset())
    return scopes


def require_roles(*roles: str, scope: str | None = None) -> Callable[[User], Awaitable[User]]:
    """A dependency that admits users holding any of `roles`, or service accounts with `scope`."""

    async def dependency(user: CurrentUser) -> User:
        if user.is_service_account:
            if scope is not None and scope in api_scopes(user):
                return user
        elif user.has_role(*roles):
            return user
        raise Forbidden(details={"required_roles": list(roles), "required_scope": scope})

    dependency.__name__ = f"require_{'_'.join(roles) or 'none'}"
    # Read by api.auth.scopes: the route's declared scope (None: closed to service accounts).
    dependency.required_scope = scope  # type: ignore[attr-defined]
    return dependency


AdminUser = Annotated[User, Depends(require_roles(Role.admin))]
OfficeUser = Annotated[User, Depends(require_roles(Role.office, Role.admin, scope="tasks:write"))]
Reader = Annotated[
    User,
    Depends(
        require_roles(
            Role.admin,
            Role.office,
            Role.leader,
            Role.viewer,
            Role.unit_head,
            Role.unit_staff,
            scope="tasks:read",
        )
    ),
]
ReadAllUser = Annotated[
    User, Depends(require_roles(Role.admin, Role.office, Role.leader, Role.viewer, scope="tasks:read"))
]
UnitActor = Annotated[
    User, Depends(require_roles(Role.unit_head, Role.office, Role.admin, scope="tasks:write"))
]
UnitWriter = Annotated[
    User,
    Depends(require_roles(Role.unit_head, Role.unit_staff, Role.office, Role.admin, scope="tasks:write")),
]
# Units: admins, or an integration's key with units:manage (the OA system keeps the directory).
UnitManager = Annotated[User, Depends(require_roles(Role.admin, scope="units:manage"))]
LeaderUser = Annotated[User, Depends(require_roles(Role.leader, Role.office, Role.admin))]
UserManager = Annotated[User, Depends(require_roles(Role.admin, Role.unit_head, scope="users:manage"))]
