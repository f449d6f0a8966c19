from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api import external
from api.assignment import service as assignment_service
from duban import zones
from duban.errors import Conflict, NotFound, Unprocessable
from duban.models import Assignment, Plan, PlanState, Role, Section, Task, User
from duban.uow import UnitOfWork, unit_of_work

PLAN_COLUMNS = (
    col(Plan.id),
    col(Plan.title),
    col(Plan.doc_no),
    col(Plan.issuer),
    col(Plan.issued_on),
    col(Plan.period_start),
    col(Plan.period_end),
    col(Plan.timezone),
    col(Plan.report_cadence),
    col(Plan.report_due_day),
    col(Plan.external_source_id),
    col(Plan.external_id),
    col(Plan.created_by_id),
    col(Plan.state),
    col(Plan.published_at),
    col(Plan.supersedes_id),
    col(Plan.version),
    col(Plan.created_at),
    col(Plan.updated_at),
)
SECTION_COLUMNS = (
    col(Section.id),
    col(Section.plan_id),
    col(Section.code),
    col(Section.title),
    col(Section.position),
    col(Section.version),
)


def sees_drafts(user: User) -> bool:
    return user.has_role(Role.office, Role.admin) or bool(user.is_service_account)


def visible_plans(user: User) -> Select[*tuple[Any, ...]]:
    # Plans are the county's public structure: every signed-in user reads them; the unit-scoped
    # part (assignments) is counted through visible_assignments in the status. A draft is the
    # office's working copy until it is published.
    stmt = sa.select(*PLAN_COLUMNS)
    if not sees_drafts(user):
        stmt = stmt.where(col(Plan.state) != PlanState.draft)
    return stmt


def get(session: Session, *, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("计划不存在", code="plan.not_found", details={"plan_id": plan_id})
    return plan


def _check(values: dict[str, Any]) -> None:
    if "title" in values and not str(values["title"] or "").strip():
        raise Unprocessable("计划标题不能为空", code="plan.invalid_title")
    start, end = values.get("period_start"), values.get("period_end")
    if start and end and end < start:
        raise Unprocessable(
            "计划期限无效：结束日期早于开始日期",
            code="plan.invalid_period",
            details={"period_start": str(start), "period_end": str(end)},
        )
    if values.get("timezone") is not None:
        zones.check(values["timezone"])


def _flush(uow: UnitOfWork, code: str, message: str) -> None:
    # A unique key taken (external id, section code) is the user's conflict, not a lost race.
    try:
        uow.flush()
    except IntegrityError as exc:
        raise Conflict(message, code=code) from exc


def create(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> tuple[Plan, bool]:
    """(plan, created): an external id already taken in the caller's namespace updates that plan."""
    data = dict(data)
    external_id = data.pop("external_id", None)
    if not external_id:
        return _insert(session, actor=actor, data=data, now=now), True
    # An integration re-sending its plan updates it instead of duplicating it.
    return external.upsert(
        session,
        Plan,
        source_id=external.source_of(actor),
        external_id=external_id,
        create=lambda: _insert(session, actor=actor, data={**data, "external_id": external_id}, now=now),
        update=lambda plan: update(session, actor=actor, plan=plan, changes=data, now=now),
    )


def _insert(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> Plan:
    _check(data)
    with unit_of_work(session, actor=actor, now=now) as uow:
        plan = uow.add(
            Plan.model_validate(
                {
                    **data,
                    "external_source_id": external.source_of(actor) if data.get("external_id") else None,
                    "created_by_id": actor.id,
                    "created_at": now,
                    "updated_at": now,
                }
            ),
            action="plan.create",
        )
        _flush(uow, "plan.duplicate", "计划已存在（外部编号重复）")
    return plan


def update(session: Session, *, actor: User, plan: Plan, changes: dict[str, Any], now: datetime) -> Plan:
    # The plan's own values, not its audit snapshot: that one holds dates as text.
    current = {key: getattr(plan, key) for key in ("title", "period_start", "period_end", "timezone")}
    _check({**current, **changes})
    if not external.changed(plan, changes):
        return plan  # nothing to write: no new version, no audit entry (a repeated create)
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(plan, action="plan.update")
        for key, value in changes.items():
            setattr(plan, key, value)
        _flush(uow, "plan.duplicate", "计划已存在（外部编号重复）")
    return plan


def remove(session: Session, *, actor: User, plan: Plan, now: datetime) -> None:
    used = session.exec(select(Assignment.id).where(Assignment.plan_id == plan.id).limit(1)).first()
    if used is not None:
        raise Conflict("该计划已有交办事项，不能删除", code="plan.in_use")
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(plan, action="plan.delete")


def public(
    session: Session, *, user: User, rows: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Attach each plan's derived status (two grouped queries for the whole page)."""
    ids = [r["id"] for r in rows]
    status = assignment_service.status_for(session, user=user, by=col(Assignment.plan_id), ids=ids, now=now)
    for r in rows:
        r["status"] = status[r["id"]]
    return rows


def detail(session: Session, *, user: User, plan_id: int, now: datetime) -> dict[str, Any]:
    row = session.execute(visible_plans(user).where(col(Plan.id) == plan_id)).mappings().first()
    if row is None:
        raise NotFound("计划不存在", code="plan.not_found", details={"plan_id": plan_id})
    out = public(session, user=user, rows=[dict(row)], now=now)[0]
    out["sections"] = list_sections(session, plan_id=plan_id)
    return out


# --- sections ----------------------------------------------------------------------------------


def list_sections(session: Session, *, plan_id: int) -> list[dict[str, Any]]:
    stmt = (
        sa.select(*SECTION_COLUMNS)
        .where(col(Section.plan_id) == plan_id)
        .order_by(col(Section.position), col(Section.id))
    )
    return [dict(r) for r in session.execute(stmt).mappings()]


def get_section(session: Session, *, plan_id: int, section_id: int) -> Section:
    section = session.get(Section, section_id)
    if section is None or section.plan_id != plan_id:
        raise NotFound("章节不存在", code="section.not_found", details={"section_id": section_id})
    return section


_DUP_SECTION = "同一计划中章节编号重复"


def create_section(
    session: Session, *, actor: User, plan: Plan, data: dict[str, Any], now: datetime
) -> Section:
    if data.get("position") is None:
        last = session.exec(select(func.max(Section.position)).where(Section.plan_id == plan.id)).first()
        data["position"] = (last or 0) + 1
    with unit_of_work(session, actor=actor, now=now) as uow:
        section = uow.add(
            Section.model_validate({**data, "plan_id": plan.id, "created_at": now, "updated_at": now}),
            action="section.create",
            entity_type="section",
        )
        _flush(uow, "section.duplicate", _DUP_SECTION)
    return section


def update_section(
    session: Session, *, actor: User, section: Section, changes: dict[str, Any], now: datetime
) -> Section:
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(section, action="section.update", entity_type="section")
        for key, value in changes.items():
            if value is not None:
                setattr(section, key, value)
        _flush(uow, "section.duplicate", _DUP_SECTION)
    return section


def remove_section(session: Session, *, actor: User, section: Section, now: datetime) -> None:
    used = session.exec(select(Task.id).where(Task.section_id == section.id).limit(1)).first()
    if used is not None:
        raise Conflict("该章节下仍有任务，不能删除", code="section.not_empty")
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(section, action="section.delete", entity_type="section")
