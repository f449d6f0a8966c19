from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, delete, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, select

from api import external
from duban import audit
from duban.db import columns
from duban.errors import Conflict, NotFound, Unprocessable
from duban.models import Assignment, Unit, UnitAlias, UnitGroup, UnitGroupMember, UnitKind, User
from duban.uow import UnitOfWork, unit_of_work

UNIT_COLUMNS = columns(
    Unit.id,
    Unit.name,
    Unit.short_name,
    Unit.kind,
    Unit.parent_id,
    Unit.code,
    Unit.contact_email,
    Unit.is_active,
    Unit.external_source_id,
    Unit.external_id,
    Unit.version,
    Unit.created_at,
    Unit.updated_at,
)

# The groups every county plan names; created on first use.
DEFAULT_GROUPS = {
    "各镇街": [UnitKind.town, UnitKind.street],
    "各镇（街道）": [UnitKind.town, UnitKind.street],
}


def visible_units(user: User) -> Select[Any]:
    # The unit directory is reference data every signed-in user may read (a unit must see who
    # leads its task); what is scoped is the work: assignments, reports, attachments.
    return sa.select(*UNIT_COLUMNS)


def get(session: Session, *, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("单位不存在", code="unit.not_found")
    return unit


def _check_parent(session: Session, unit_id: int | None, parent_id: int | None) -> None:
    if parent_id is None:
        return
    if parent_id == unit_id or session.get(Unit, parent_id) is None:
        raise Unprocessable("上级单位无效", code="unit.invalid_parent", details={"parent_id": parent_id})


def _flush_unique(uow: UnitOfWork, what: str) -> None:
    try:
        uow.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what}已存在（名称、编码或外部编号重复）", code="unit.duplicate") from exc


def create(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> tuple[Unit, bool]:
    """(unit, created): an external id already taken in the caller's namespace updates that unit."""
    data = dict(data)
    external_id = data.pop("external_id", None)
    if not external_id:
        return _insert(session, actor=actor, data=data, now=now), True
    # An integration re-sending its object updates it instead of duplicating it.
    return external.upsert(
        session,
        Unit,
        source_id=external.source_of(actor),
        external_id=external_id,
        create=lambda: _insert(session, actor=actor, data={**data, "external_id": external_id}, now=now),
        update=lambda unit: update(session, actor=actor, unit=unit, changes=data, now=now),
    )


def _insert(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> Unit:
    _check_parent(session, None, data.get("parent_id"))
    if data.get("external_id"):
        data = {**data, "external_source_id": external.source_of(actor)}
    with unit_of_work(session, actor=actor, now=now) as uow:
        unit = uow.add(
            Unit.model_validate({**data, "created_at": now, "updated_at": now}), action="unit.create"
        )
        _flush_unique(uow, "单位")
    return unit


def update(session: Session, *, actor: User, unit: Unit, changes: dict[str, Any], now: datetime) -> Unit:
    changes = {k: v for k, v in changes.items() if k not in ("external_id", "external_source_id")}
    if "parent_id" in changes:
        _check_parent(session, unit.id, changes["parent_id"])
    if not external.changed(unit, changes):
        return unit  # nothing to write: no new version, no audit entry (a repeated create)
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(unit, action="unit.update")
        for key, value in changes.items():
            setattr(unit, key, value)
        _flush_unique(uow, "单位")
    return unit


def remove(session: Session, *, actor: User, unit: Unit, now: datetime) -> None:
    used = session.exec(select(Assignment.id).where(Assignment.unit_id == unit.id).limit(1)).first()
    if used is not None:
        raise Conflict("该单位已有交办任务，只能停用不能删除", code="unit.in_use")
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(unit, action="unit.delete")


def resolve_group_units(session: Session, *, group: UnitGroup) -> list[int]:
    """Explicit members plus every active unit of the group's kinds, in one query."""
    stmt = (
        select(col(Unit.id))
        .where(
            col(Unit.is_active).is_(True),
            or_(
                col(Unit.id).in_(select(UnitGroupMember.unit_id).where(UnitGroupMember.group_id == group.id)),
                col(Unit.kind).in_(group.member_kinds or ["__none__"]),
            ),
        )
        .order_by(col(Unit.id))
    )
    return [unit_id for unit_id in session.exec(stmt).all() if unit_id is not None]


def group_public(session: Session, group: UnitGroup) -> dict[str, Any]:
    members = list(
        session.exec(
            select(UnitGroupMember.unit_id)
            .where(UnitGroupMember.group_id == group.id)
            .order_by(col(UnitGroupMember.unit_id))
        ).all()
    )
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "member_kinds": group.member_kinds,
        "version": group.version,
        "member_ids": members,
        "resolved_unit_ids": resolve_group_units(session, group=group),
    }


def _set_members(session: Session, group: UnitGroup, member_ids: Sequence[int]) -> None:
    ids = sorted(set(member_ids))
    if ids:
        found = set(session.exec(select(Unit.id).where(col(Unit.id).in_(ids))).all())
        missing = [i for i in ids if i not in found]
        if missing:
            raise Unprocessable(
                "成员单位不存在", code="unit_group.unknown_members", details={"missing": missing}
            )
    session.execute(delete(UnitGroupMember).where(col(UnitGroupMember.group_id) == group.id))
    session.add_all(UnitGroupMember(group_id=group.id or 0, unit_id=i) for i in ids)


def create_group(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> UnitGroup:
    member_ids = data.pop("member_ids", [])
    with unit_of_work(session, actor=actor, now=now) as uow:
        group = uow.add(
            UnitGroup.model_validate(
                {**data, "member_kinds": [str(k) for k in data.get("member_kinds", [])]}
            ),
            action="unit_group.create",
            snapshot=lambda g: {**audit.snapshot(g), "member_ids": sorted(set(member_ids))},
        )
        _flush_unique(uow, "单位组")
        _set_members(session, group, member_ids)
    return group


def update_group(
    session: Session, *, actor: User, group: UnitGroup, changes: dict[str, Any], now: datetime
) -> UnitGroup:
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(group, action="unit_group.update")
        member_ids = changes.pop("member_ids", None)
        for key, value in changes.items():
            if key == "member_kinds":
                value = [str(k) for k in value or []]  # null clears the kinds, as [] does
            setattr(group, key, value)
        if member_ids is not None:
            _set_members(session, group, member_ids)
            # The members are part of the group (its version): replacing them is a new version.
            flag_modified(group, "updated_at")
        _flush_unique(uow, "单位组")
    return group


def delete_group(session: Session, *, actor: User, group: UnitGroup, now: datetime) -> None:
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(group, action="unit_group.delete")


def ensure_default_groups(session: Session) -> None:
    """Flushes, never commits: called inside importers and the demo."""
    for name, kinds in DEFAULT_GROUPS.items():
        if session.exec(select(UnitGroup.id).where(UnitGroup.name == name)).first() is None:
            session.add(UnitGroup(name=name, member_kinds=[str(k) for k in kinds]))
    session.flush()


def find_by_name(session: Session, *, name: str) -> Unit | None:
    """A unit by its name or one of its aliases."""
    unit = session.exec(select(Unit).where(Unit.name == name)).first()
    if unit is not None:
        return unit
    alias = session.exec(select(UnitAlias).where(UnitAlias.alias == name)).first()
    return session.get(Unit, alias.unit_id) if alias else None


def _alias_snapshot(row: UnitAlias) -> dict[str, Any]:
    return {"alias": row.alias, "unit_id": row.unit_id}


def add_alias(session: Session, *, actor: User, alias: str, unit_id: int, now: datetime) -> UnitAlias:
    get(session, unit_id=unit_id)
    if session.exec(select(Unit.id).where(Unit.name == alias)).first() is not None:
        raise Conflict("别名与已有单位名称相同", code="unit_alias.conflicts_with_unit")
    with unit_of_work(session, actor=actor, now=now) as uow:
        row = uow.add(
            UnitAlias(alias=alias, unit_id=unit_id), action="unit_alias.create", snapshot=_alias_snapshot
        )
        try:
            uow.flush()
        except IntegrityError as exc:
            raise Conflict("别名已存在", code="unit_alias.duplicate") from exc
    return row


def delete_alias(session: Session, *, actor: User, alias_id: int, now: datetime) -> None:
    row = session.get(UnitAlias, alias_id)
    if row is None:
        raise NotFound("别名不存在", code="unit_alias.not_found")
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(row, action="unit_alias.delete", snapshot=_alias_snapshot)
