"""Service accounts for integrations: their API keys (hashed, scoped, expiring), rotation and revocation.

An account is a `user_account` row (`is_service_account`, role `service`); it holds one or more
keys. Rotating issues a new key with the same scopes and lets the account's live keys work on
until a set time, so an integration can switch without a gap; revoking ends a key at once.
Everything an account does is audited under its own user id (the actor of its requests).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.auth.scopes import API_SCOPES
from api.security import hash_token, new_token
from duban.errors import Conflict, NotFound, Unprocessable
from duban.models import ApiKey, Role, User
from duban.settings import Settings
from duban.uow import unit_of_work

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=30)

KEY_COLUMNS = (
    col(ApiKey.id),
    col(ApiKey.user_id),
    col(ApiKey.name),
    col(ApiKey.prefix),
    col(ApiKey.scopes),
    col(ApiKey.created_at),
    col(ApiKey.expires_at),
    col(ApiKey.revoked_at),
    col(ApiKey.rotated_at),
    col(ApiKey.last_used_at),
    col(ApiKey.last_used_address),
)


def _check_scopes(scopes: list[str]) -> None:
    unknown = sorted(set(scopes) - API_SCOPES)
    if unknown:
        raise Unprocessable(
            "未知的权限范围",
            code="service_account.unknown_scope",
            details={"unknown": unknown, "allowed": sorted(API_SCOPES)},
        )


def _new_key(
    *,
    user_id: int,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    settings: Settings,
    now: datetime,
) -> tuple[ApiKey, str]:
    key = new_token("dbk", 32)
    record = ApiKey(
        user_id=user_id,
        name=name,
        prefix=key[:10],
        key_hash=hash_token(key, settings),
        scopes=sorted(set(scopes)),
        created_at=now,
        expires_at=expires_at,
    )
    return record, key


def create(
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
    _check_scopes(scopes)
    if expires_at is not None and expires_at <= now:
        raise Unprocessable("过期时间必须晚于当前时间", code="service_account.invalid_expiry")
    username = f"svc-{name}"
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict("同名服务账号已存在", code="service_account.exists")
    with unit_of_work(session, actor=actor, now=now) as uow:
        user = uow.add(
            User(
                username=username,
                full_name=full_name or name,
                roles=[Role.service],
                is_service_account=True,
                created_at=now,
                updated_at=now,
            ),
            action="service_account.create",
        )
        uow.flush()
        record, key = _new_key(
            user_id=user.id or 0, name=name, scopes=scopes, expires_at=expires_at, settings=settings, now=now
        )
        uow.add(record, action="api_key.create")
    return record, key


def get_account(session: Session, *, account_id: int) -> User:
    user = session.get(User, account_id)
    if user is None or not user.is_service_account:
        raise NotFound("服务账号不存在", code="service_account.not_found", details={"account_id": account_id})
    return user


def _live(record: ApiKey, now: datetime) -> bool:
    return record.revoked_at is None and (record.expires_at is None or record.expires_at > now)


def rotate(
    session: Session,
    *,
    actor: User,
    account: User,
    old_keys_valid_until: datetime | None,
    settings: Settings,
    now: datetime,
) -> tuple[ApiKey, str, list[ApiKey]]:
    """A new key for the account (same scopes and expiry as its newest live key); the account's
    other live keys keep working until `old_keys_valid_until` (default: 24 hours), then stop."""
    until = old_keys_valid_until or now + DEFAULT_OVERLAP
    if until < now or until > now + MAX_OVERLAP:
        raise Unprocessable(
            "旧密钥的有效期须在当前时间之后 30 天以内",
            code="service_account.invalid_overlap",
            details={"old_keys_valid_until": until.isoformat(), "max_days": MAX_OVERLAP.days},
        )
    keys = session.exec(select(ApiKey).where(ApiKey.user_id == account.id).order_by(col(ApiKey.id))).all()
    live = [k for k in keys if _live(k, now)]
    if not live:
        raise Conflict(
            "该服务账号没有有效的密钥可轮换（已吊销或已过期），请新建服务账号",
            code="service_account.no_live_key",
        )
    scopes, name, expires_at = list(live[-1].scopes), live[-1].name, live[-1].expires_at
    with unit_of_work(session, actor=actor, now=now) as uow:
        # Two rotations of one account at once: the second meets a changed version (409).
        uow.track(account, action="service_account.rotate_key")
        uow.guard(account)
        for old in live:
            uow.track(old, action="api_key.rotate")
            old.rotated_at = now
            if old.expires_at is None or old.expires_at > until:
                old.expires_at = until
        record, key = _new_key(
            user_id=account.id or 0,
            name=name,
            scopes=scopes,
            expires_at=expires_at,
            settings=settings,
            now=now,
        )
        uow.add(record, action="api_key.create")
    return record, key, live


def revoke(session: Session, *, actor: User, key_id: int, now: datetime) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None:
        raise NotFound("API 密钥不存在", code="api_key.not_found")
    if record.revoked_at is None:
        with unit_of_work(session, actor=actor, now=now) as uow:
            uow.track(record, action="api_key.revoke")
            record.revoked_at = now
    return record


def list_accounts(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Every service account with its keys (never the keys themselves), newest key first."""
    accounts = session.execute(
        sa.select(
            col(User.id),
            col(User.username),
            col(User.full_name),
            col(User.is_active),
            col(User.created_at),
        )
        .where(col(User.is_service_account).is_(True))
        .order_by(col(User.id))
    ).mappings()
    out: dict[int, dict[str, Any]] = {}
    for a in accounts:
        out[a["id"]] = {
            "id": a["id"],
            "name": a["username"].removeprefix("svc-"),
            "username": a["username"],
            "full_name": a["full_name"],
            "is_active": a["is_active"],
            "created_at": a["created_at"],
            "scopes": [],
            "last_used_at": None,
            "last_used_address": None,
            "keys": [],
        }
    rows = session.execute(sa.select(*KEY_COLUMNS).order_by(col(ApiKey.id).desc())).mappings()
    for r in rows:
        account = out.get(r["user_id"])
        if account is None:
            continue
        key = dict(r)
        key["active"] = key["revoked_at"] is None and (key["expires_at"] is None or key["expires_at"] > now)
        account["keys"].append(key)
        if key["active"] and not account["scopes"]:
            account["scopes"] = key["scopes"]
        used = key["last_used_at"]
        if used is not None and (account["last_used_at"] is None or used > account["last_used_at"]):
            account["last_used_at"], account["last_used_address"] = used, key["last_used_address"]
    return list(out.values())
