from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.security import create_access_token, hash_password, hash_token, new_token, verify_password
from duban.errors import Conflict, NotFound, TooManyRequests, Unauthorized, Unprocessable
from duban.models import ApiKey, LoginAttempt, RefreshToken, Role, User
from duban.settings import Settings

API_SCOPES = frozenset(
    {"tasks:read", "tasks:write", "webhooks:manage", "users:manage", "plans:import", "audit:read"}
)


def _check_throttle(
    session: Session, *, username: str, address: str, settings: Settings, now: datetime
) -> None:
    since = now - timedelta(minutes=settings.login_window_minutes)
    for column, value in ((LoginAttempt.username, username), (LoginAttempt.address, address)):
        failures = session.exec(
            select(func.count(), func.min(LoginAttempt.at)).where(  # type: ignore[call-overload]
                column == value, col(LoginAttempt.succeeded).is_(False), LoginAttempt.at > since
            )
        ).one()
        if failures[0] >= settings.login_max_failures:
            retry_after = max(
                1, int((failures[1] + timedelta(minutes=settings.login_window_minutes) - now).total_seconds())
            )
            raise TooManyRequests(
                "登录失败次数过多，请稍后再试",
                code="auth.too_many_attempts",
                headers={"Retry-After": str(retry_after)},
                details={"retry_after": retry_after},
            )


def _issue(
    session: Session, *, user: User, settings: Settings, now: datetime, family: str | None = None
) -> dict[str, object]:
    access, expires_in = create_access_token(
        subject=user.id or 0, generation=user.token_generation, roles=user.roles, settings=settings, now=now
    )
    refresh = new_token("rt", 32)
    session.add(
        RefreshToken(
            user_id=user.id or 0,
            token_hash=hash_token(refresh, settings),
            family=family or secrets.token_hex(16),
            issued_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": expires_in,
        "refresh_token": refresh,
    }


def login(
    session: Session, *, username: str, password: str, address: str, settings: Settings, now: datetime
) -> dict[str, object]:
    _check_throttle(session, username=username, address=address, settings=settings, now=now)
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active or user.is_service_account:
        session.add(LoginAttempt(username=username[:64], address=address[:64], succeeded=False, at=now))
        session.commit()
        raise Unauthorized(
            "用户名或密码错误", code="auth.invalid_credentials", headers={"WWW-Authenticate": "Bearer"}
        )
    session.add(LoginAttempt(username=username[:64], address=address[:64], succeeded=True, at=now))
    user.last_login_at = now
    tokens = _issue(session, user=user, settings=settings, now=now)
    session.commit()
    return tokens


def refresh(session: Session, *, token: str, settings: Settings, now: datetime) -> dict[str, object]:
    row = session.exec(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(token, settings))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("刷新令牌无效或已过期", code="auth.invalid_refresh_token")
    if row.used_at is not None:
        # A rotated token came back: assume it was stolen and end the whole login.
        _revoke_family(session, family=row.family, now=now)
        session.commit()
        raise Unauthorized("刷新令牌已被使用，已注销该登录", code="auth.refresh_token_reused")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("账号不存在或已停用", code="auth.user_disabled")
    row.used_at = now
    tokens = _issue(session, user=user, settings=settings, now=now, family=row.family)
    session.commit()
    return tokens


def _revoke_family(session: Session, *, family: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family) == family, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def logout(
    session: Session, *, user: User, token: str | None, everywhere: bool, settings: Settings, now: datetime
) -> None:
    if everywhere:
        session.execute(
            update(RefreshToken)
            .where(col(RefreshToken.user_id) == user.id, col(RefreshToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        user.token_generation += 1
    elif token:
        row = session.exec(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(token, settings))
        ).first()
        if row is not None and row.user_id == user.id:
            _revoke_family(session, family=row.family, now=now)
    session.commit()


def create_service_account(
    session: Session,
    *,
    actor: User,
    name: str,
    full_name: str | None,
    scopes: list[str],
    expires_at: datetime | None,
    settings: Settings,
    now: datetime,
) -> tuple[ApiKey, str]:
    unknown = sorted(set(scopes) - API_SCOPES)
    if unknown:
        raise Unprocessable(
            "未知的权限范围",
            code="service_account.unknown_scope",
            details={"unknown": unknown, "allowed": sorted(API_SCOPES)},
        )
    if expires_at is not None and expires_at <= now:
        raise Unprocessable("过期时间必须晚于当前时间", code="service_account.invalid_expiry")
    username = f"svc-{name}"
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict("同名服务账号已存在", code="service_account.exists")
    user = User(username=username, full_name=full_name or name, roles=[Role.service], is_service_account=True)
    session.add(user)
    session.flush()
    key = new_token("dbk", 32)
    record = ApiKey(
        user_id=user.id or 0,
        name=name,
        prefix=key[:10],
        key_hash=hash_token(key, settings),
        scopes=sorted(set(scopes)),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="service_account.create",
        entity_type="api_key",
        entity_id=record.id,
        after={
            "name": name,
            "scopes": record.scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
        now=now,
    )
    session.commit()
    return record, key


def revoke_api_key(session: Session, *, actor: User, key_id: int, now: datetime) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None:
        raise NotFound("API 密钥不存在", code="api_key.not_found")
    if record.revoked_at is None:
        record.revoked_at = now
        audit.record(
            session, actor=actor, action="api_key.revoke", entity_type="api_key", entity_id=key_id, now=now
        )
        session.commit()
    return record


def hash_new_password(password: str) -> str:
    return hash_password(password)
