from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.auth import throttle
from api.security import create_access_token, hash_password, hash_token, new_token, verify_password
from duban.db import rowcount
from duban.errors import Unauthorized
from duban.models import LoginAttempt, RefreshToken, User
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


@dataclass(frozen=True)
class LoginCandidate:
    """What the password check needs, read before it: the account's hash (None: no such account)."""

    username: str
    address: str
    password_hash: str | None


def begin_login(
    session: Session, *, username: str, address: str, settings: Settings, now: datetime
) -> LoginCandidate:
    """Reserve the attempt on both throttle counters (commit, or 429) and read the stored hash."""
    throttle.admit(session, username=username, address=address, settings=settings, now=now)
    user = session.exec(select(User).where(User.username == username)).first()
    usable = user is not None and user.is_active and not user.is_service_account
    password_hash = user.password_hash if user is not None and usable else None
    session.rollback()  # nothing written since the reservation's commit; the connection goes back
    return LoginCandidate(username=username, address=address, password_hash=password_hash)


def finish_login(
    session: Session, *, candidate: LoginCandidate, ok: bool, settings: Settings, now: datetime
) -> dict[str, object]:
    """Record the checked attempt; on success reopen the counters and issue the tokens."""
    username, address = candidate.username, candidate.address
    user = session.exec(select(User).where(User.username == username)).first() if ok else None
    if user is None or not user.is_active or user.is_service_account:
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


def login(
    session: Session, *, username: str, password: str, address: str, settings: Settings, now: datetime
) -> dict[str, object]:
    """The three steps in one session (the route runs the password check outside of any session:
    see api.auth.router.login)."""
    candidate = begin_login(session, username=username, address=address, settings=settings, now=now)
    ok = verify_password(password, candidate.password_hash)
    return finish_login(session, candidate=candidate, ok=ok, settings=settings, now=now)


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


def hash_new_password(password: str) -> str:
    return hash_password(password)
