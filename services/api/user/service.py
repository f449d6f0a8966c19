from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api import external
from api.security import hash_password, verify_password
from duban.db import columns
from duban.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from duban.models import Role, Unit, User
from duban.uow import unit_of_work

USER_COLUMNS = columns(
    User.id,
    User.username,
    User.full_name,
    User.email,
    User.phone,
    User.unit_id,
    User.is_active,
    User.roles,
    User.is_service_account,
    User.last_login_at,
    User.external_source_id,
    User.external_id,
    User.version,
    User.created_at,
    User.updated_at,
)
UNIT_ROLES = {Role.unit_head, Role.unit_staff}


def visible_users(user: User) -> Select[Any]:
    stmt = select(*USER_COLUMNS)
    if user.reads_all:
        return stmt
    # Unit users see the people of their own unit only.
    return stmt.where(User.unit_id == (user.unit_id if user.unit_id is not None else -1))


def get_visible(session: Session, *, viewer: User, user_id: int) -> User:
    found = session.exec(select(User).where(User.id == user_id)).first()
    if found is None or not (
        viewer.reads_all or (viewer.unit_id is not None and found.unit_id == viewer.unit_id)
    ):
        raise NotFound("用户不存在", code="user.not_found")
    return found


def _authorize_manage(actor: User, *, unit_id: int | None, roles: list[str]) -> None:
    """Admins manage everyone; an integration's key (users:manage) everyone but admins; a unit
    head manages unit staff of their own unit only."""
    if actor.has_role(Role.admin):
        return
    if actor.is_service_account:
        if Role.admin not in roles:
            return
        raise Forbidden("服务账号不能管理管理员账号", code="user.manage_forbidden")
    if (
        actor.has_role(Role.unit_head)
        and actor.unit_id is not None
        and unit_id == actor.unit_id
        and set(roles) <= {Role.unit_staff}
    ):
        return
    raise Forbidden("只能管理本单位的工作人员账号", code="user.manage_forbidden")


def _check_unit(session: Session, unit_id: int | None, roles: list[str]) -> None:
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise Unprocessable("所属单位不存在", code="user.unknown_unit", details={"unit_id": unit_id})
    if unit_id is None and UNIT_ROLES & set(roles):
        raise Unprocessable("单位角色必须指定所属单位", code="user.unit_required")


def create_or_update(
    session: Session, *, actor: User, data: dict[str, Any], now: datetime
) -> tuple[User, bool]:
    """(user, created): an external id already taken in the caller's namespace updates that user.

    The password is set only when the account is created; a repeat never changes it (that would
    end the person's sessions on every sync) — PATCH does.
    """
    data = dict(data)
    external_id = data.pop("external_id", None)
    if not external_id:
        return create(session, actor=actor, data=data, now=now), True

    def _update(user: User) -> User:
        if user.username != data["username"]:
            raise Conflict(
                "该外部编号已用于另一用户名的账号，用户名不能修改",
                code="user.external_id_in_use",
                details={"external_id": external_id, "user_id": user.id, "username": user.username},
            )
        changes = {k: v for k, v in data.items() if k not in ("username", "password")}
        return update(session, actor=actor, user=user, changes=changes, now=now)

    return external.upsert(
        session,
        User,
        source_id=external.source_of(actor),
        external_id=external_id,
        create=lambda: create(session, actor=actor, data={**data, "external_id": external_id}, now=now),
        update=_update,
    )


def create(session: Session, *, actor: User | None, data: dict[str, Any], now: datetime) -> User:
    data = dict(data)
    roles = [str(r) for r in data.pop("roles")]
    if actor is not None:
        _authorize_manage(actor, unit_id=data.get("unit_id"), roles=roles)
    _check_unit(session, data.get("unit_id"), roles)
    password = data.pop("password", None)
    if data.get("external_id"):
        data["external_source_id"] = external.source_of(actor)
    user = User.model_validate(
        {
            **data,
            "roles": roles,
            "password_hash": hash_password(password) if password else None,
            "created_at": now,
            "updated_at": now,
        }
    )
    try:
        with unit_of_work(session, actor=actor, now=now) as uow:
            uow.add(user, action="user.create")
    except IntegrityError as exc:
        raise Conflict("用户名或外部编号已存在", code="user.duplicate") from exc
    return user


def update(session: Session, *, actor: User, user: User, changes: dict[str, Any], now: datetime) -> User:
    roles = [str(r) for r in changes.get("roles") or user.roles]
    _authorize_manage(actor, unit_id=user.unit_id, roles=user.roles)
    _authorize_manage(actor, unit_id=changes.get("unit_id", user.unit_id), roles=roles)
    if actor.id == user.id and changes.get("is_active") is False:
        raise Conflict("不能停用自己的账号", code="user.cannot_disable_self")
    _check_unit(session, changes.get("unit_id", user.unit_id), roles)
    password = changes.pop("password", None)
    if "roles" in changes:
        changes["roles"] = roles
    if not password and not external.changed(user, changes):
        return user  # nothing to write: no new version, no audit entry (a repeated create)
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(user, action="user.update")
        for key, value in changes.items():
            setattr(user, key, value)
        if password:
            user.password_hash = hash_password(password)
        if password or changes.get("is_active") is False or "roles" in changes:
            # Outstanding access tokens carry the old roles or the old password's trust: end them.
            user.token_generation += 1
    return user


def change_password(session: Session, *, user: User, current: str, new: str, now: datetime) -> None:
    if not verify_password(current, user.password_hash):
        raise Unauthorized("当前密码不正确", code="auth.invalid_credentials")
    with unit_of_work(session, actor=user, now=now) as uow:
        # The audit entry names the change, never the hashes (snapshots leave password_hash out).
        uow.track(user, action="user.change_password")
        user.password_hash = hash_password(new)
        user.token_generation += 1


def get(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", code="user.not_found")
    return user
