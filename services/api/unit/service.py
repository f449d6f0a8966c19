from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from rapidfuzz.distance import Levenshtein
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


def alias_snapshot(row: UnitAlias) -> dict[str, Any]:
    return {"alias": row.alias, "unit_id": row.unit_id}


def add_alias(session: Session, *, actor: User, alias: str, unit_id: int, now: datetime) -> UnitAlias:
    get(session, unit_id=unit_id)
    if session.exec(select(Unit.id).where(Unit.name == alias)).first() is not None:
        raise Conflict("别名与已有单位名称相同", code="unit_alias.conflicts_with_unit")
    with unit_of_work(session, actor=actor, now=now) as uow:
        row = uow.add(
            UnitAlias(alias=alias, unit_id=unit_id), action="unit_alias.create", snapshot=alias_snapshot
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
        uow.delete(row, action="unit_alias.delete", snapshot=alias_snapshot)


# --- names as documents write them ------------------------------------------------------------

_BRACKETED = re.compile(r"[（(]([^（）()]*)[）)]")
_REGION_PREFIX = ("县", "区", "市")
_BODY_SUFFIX = ("管理委员会", "管委会")
SUGGEST_MIN = 0.5
# Close enough that an import asks the office instead of creating a near-duplicate unit.
HOLD_MIN = 0.7


def name_forms(name: str) -> set[str]:
    """The forms a unit goes by: without brackets, its bracketed alias, without 县/区/市 and 管委会."""
    forms = set()
    for raw in (_BRACKETED.sub("", name), *_BRACKETED.findall(name)):
        form = raw.strip()
        for suffix in _BODY_SUFFIX:
            if form.endswith(suffix) and len(form) > len(suffix) + 1:
                form = form[: -len(suffix)]
        if form[:1] in _REGION_PREFIX and len(form) > 2:
            form = form[1:]
        if form:
            forms.add(form)
    return forms


def _abbreviates(short: str, long: str) -> bool:
    """住建局 for 住房和城乡建设局: the short form's characters in order, first and last kept."""
    if len(short) < 2 or len(short) >= len(long) or short[0] != long[0] or short[-1] != long[-1]:
        return False
    it = iter(long)
    return all(ch in it for ch in short)


def similarity(a: str, b: str) -> float:
    """0…1: how likely two written names mean the same unit."""
    best = 0.0
    for x in name_forms(a) or {a}:
        for y in name_forms(b) or {b}:
            if x == y:
                return 1.0
            score = Levenshtein.normalized_similarity(x, y)
            if _abbreviates(x, y) or _abbreviates(y, x):
                score = max(score, 0.75)
            best = max(best, score)
    return best


def suggest(
    session: Session, *, name: str, limit: int = 5, exclude: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """The closest active units (by name or alias) to a name no unit carries, best first.

    The directory is a county's few dozen units and their aliases: compared in Python.
    """
    rows = list(
        session.execute(
            sa.select(col(Unit.id), col(Unit.name), sa.null().label("alias")).where(
                col(Unit.is_active).is_(True)
            )
        ).all()
    )
    rows += session.execute(
        sa.select(col(Unit.id), col(Unit.name), col(UnitAlias.alias))
        .join(UnitAlias, col(UnitAlias.unit_id) == col(Unit.id))
        .where(col(Unit.is_active).is_(True))
    ).all()
    best: dict[int, dict[str, Any]] = {}
    for unit_id, unit_name, alias in rows:
        if unit_id in exclude:
            continue
        score = similarity(name, alias or unit_name)
        if score >= SUGGEST_MIN and score > best.get(unit_id, {}).get("score", -1):
            best[unit_id] = {
                "unit_id": unit_id,
                "name": unit_name,
                "via_alias": alias,
                "score": round(score, 2),
            }
    return sorted(best.values(), key=lambda s: (-s["score"], s["name"]))[:limit]
