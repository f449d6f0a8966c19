from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.auth import throttle
from api.auth.scopes import API_SCOPES
from api.security import create_access_token, hash_password, hash_token, new_token, verify_password
from duban.db import rowcount
from duban.errors import Conflict, NotFound, Unauthorized, Unprocessable
from duban.models import ApiKey, LoginAttempt, RefreshToken, Role, User
from duban.settings import Settings


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
            generation=user.token_generation,
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
    throttle.admit(session, username=username, address=address, settings=settings, now=now)
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active or user.is_service_account:
        session.add(LoginAttempt(username=username[:64], address=address[:64], succeeded=False, at=now))
        throttle.forget_stale(session, settings=settings, now=now)
        session.commit()
        raise Unauthorized(
            "用户名或密码错误", code="auth.invalid_credentials", headers={"WWW-Authenticate": "Bearer"}
        )
    throttle.succeeded(session, username=username, address=address, settings=settings)
    session.add(LoginAttempt(username=username[:64], address=address[:64], succeeded=True, at=now))
    # A plain UPDATE: a sign-in is not an edit of the user (no version bump, no lost-update check
    # that would make two tabs signing in at once conflict).
    session.execute(update(User).where(col(User.id) == user.id).values(last_login_at=now))
    tokens = _issue(session, user=user, settings=settings, now=now)
    session.commit()
    return tokens


def refresh(session: Session, *, token: str, settings: Settings, now: datetime) -> dict[str, object]:
    row = session.exec(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(token, settings))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("刷新令牌无效或已过期", code="auth.invalid_refresh_token")
    # Mark it used in the statement that checks it: of two concurrent refreshes one wins, the
    # other is a reuse.
    claimed = rowcount(
        session.execute(
            update(RefreshToken)
            .where(
                col(RefreshToken.id) == row.id,
                col(RefreshToken.used_at).is_(None),
                col(RefreshToken.revoked_at).is_(None),
            )
            .values(used_at=now),
            execution_options={"synchronize_session": False, "preserve_rowcount": True},
        )
    )
    if not claimed:
        # A rotated token came back: assume it was stolen and end the whole login.
        _revoke_family(session, family=row.family, now=now)
        session.commit()
        raise Unauthorized("刷新令牌已被使用，已注销该登录", code="auth.refresh_token_reused")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or row.generation != user.token_generation:
        # Password changed or reset, account disabled, or signed out since this login began.
        _revoke_family(session, family=row.family, now=now)
        session.commit()
        raise Unauthorized("登录已失效，请重新登录", code="auth.session_ended")
    tokens = _issue(session, user=user, settings=settings, now=now, family=row.family)
    session.commit()
    return tokens


def _revoke_family(session: Session, *, family: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family) == family, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def end_sessions(session: Session, *, user_id: int, now: datetime) -> None:
    """End every login of the user: access tokens by generation, refresh tokens revoked (caller commits)."""
    session.execute(
        update(User).where(col(User.id) == user_id).values(token_generation=User.token_generation + 1)
    )
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def logout(session: Session, *, user: User, now: datetime) -> None:
    # One token policy: signing out ends every session of the user (this one included), the
    # access tokens too — not only the refresh token the client happens to send.
    end_sessions(session, user_id=user.id or 0, now=now)
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
