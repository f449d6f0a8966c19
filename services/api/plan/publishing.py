"""A draft plan to publication (交办): its checks, deadline shifts, unit names, and publishing.

An imported plan is a draft: the office reads the breakdown, fixes names and dates, and only
then publishes. Publishing creates every assignment in one transaction and tells each unit once,
in one message listing its tasks (plan.published); the per-assignment events still go to
integrations. Deadlines already past on the day of publication count overdue from that day.
"""

from __future__ import annotations

import calendar as stdlib_calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.assignment import service as assignment_service
from api.plan import importing
from api.unit import service as unit_service
from duban import calendar, events, links, zones
from duban.errors import Conflict, NotFound, Unprocessable
from duban.models import (
    Assignment,
    Indicator,
    Plan,
    PlanState,
    Target,
    Task,
    TaskUnit,
    Unit,
    UnitAlias,
    UnitKind,
    User,
)
from duban.uow import UnitOfWork, unit_of_work
from plandoc.interchange import ImportWarning, UnitSuggestion
from plandoc.units import is_generic

ITEMS_PER_MESSAGE = 200


def _require_draft(plan: Plan) -> None:
    if plan.state != PlanState.draft:
        raise Conflict(
            "计划已发布，不能再作草稿修改；已交办事项的截止日期请走延期审批",
            code="plan.not_draft",
            details={"plan_id": plan.id, "state": str(plan.state)},
        )


# --- checks ---------------------------------------------------------------------------------------


def _tasks(session: Session, plan_id: int) -> list[Task]:
    return list(
        session.exec(
            select(Task).where(Task.plan_id == plan_id).order_by(col(Task.position), col(Task.id))
        ).all()
    )


def unresolved_names(session: Session, *, plan_id: int) -> list[dict[str, Any]]:
    """Names kept as written that are not generic phrases: the office must say which unit they mean."""
    rows = session.execute(
        sa.select(col(TaskUnit.label), col(Task.code))
        .join(Task, col(Task.id) == col(TaskUnit.task_id))
        .where(
            col(Task.plan_id) == plan_id,
            col(TaskUnit.unit_id).is_(None),
            col(TaskUnit.group_id).is_(None),
            col(TaskUnit.label).is_not(None),
        )
        .order_by(col(Task.position), col(TaskUnit.position))
    ).all()
    by_name: dict[str, list[str]] = {}
    for label, code in rows:
        name = str(label).strip()
        if not name or is_generic(name) or name in unit_service.DEFAULT_GROUPS:
            continue
        codes = by_name.setdefault(name, [])
        if code not in codes:
            codes.append(code)
    return [
        {"name": name, "tasks": codes, "suggestions": unit_service.suggest(session, name=name)}
        for name, codes in by_name.items()
    ]


def _tasks_with_units(session: Session, task_ids: list[int]) -> set[int]:
    """The tasks that name a unit or a unit group: what publishing assigns."""
    return set(
        session.exec(
            select(TaskUnit.task_id).where(
                col(TaskUnit.task_id).in_(task_ids),
                sa.or_(col(TaskUnit.unit_id).is_not(None), col(TaskUnit.group_id).is_not(None)),
            )
        ).all()
    )


def _unresolved_warning(name: dict[str, Any], message: str) -> ImportWarning:
    return ImportWarning(
        code="unit.unresolved",
        message=message.format(name=name["name"], tasks="、".join(name["tasks"][:5])),
        text=name["name"],
        suggestions=[UnitSuggestion.model_validate(c) for c in name["suggestions"]],
    )


def checks(session: Session, *, plan: Plan, now: datetime) -> dict[str, Any]:
    """What publishing would do and what the office should look at first, from the draft as it is now."""
    assert plan.id is not None
    tasks = _tasks(session, plan.id)
    ids = [t.id for t in tasks if t.id is not None]
    with_units = _tasks_with_units(session, ids)
    unresolved = unresolved_names(session, plan_id=plan.id)
    warnings: list[ImportWarning] = [
        _unresolved_warning(u, "单位“{name}”未确认（任务{tasks}）：请选择已有单位或新建") for u in unresolved
    ]
    warnings += [
        ImportWarning(
            code="task.unassigned",
            message=f"任务{t.code}“{t.title[:30]}”未指定责任单位，发布时不会交办",
            text=t.code,
        )
        for t in tasks
        if t.id not in with_units and t.parent_id is None
    ]
    warnings += importing.empty_groups(session, ids)
    dues = [t.due_date for t in tasks]
    warnings += importing.past_deadline_warnings(dues, now=now, zone=zones.of_plan(plan))
    warnings += importing.uncovered_warnings(dues)
    today = calendar.local_date(now, zones.of_plan(plan))
    past = [d for d in dues if d is not None and d < today]
    return {
        "plan_id": plan.id,
        "state": str(plan.state),
        "tasks": len(tasks),
        "tasks_to_assign": len(with_units),
        "past_deadlines": len(past),
        "unresolved_units": unresolved,
        "can_publish": plan.state == PlanState.draft and not unresolved,
        "warnings": [w.model_dump(mode="json") for w in warnings],
    }


# --- publishing -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    assignments: int = 0
    withdrawn: int = 0  # open assignments of the version this one replaces, cancelled
    units_notified: int = 0
    warnings: list[ImportWarning] = field(default_factory=list)


def publish(session: Session, *, plan: Plan, actor: User | None, now: datetime) -> dict[str, Any]:
    """交办: every assignment of the draft in one transaction, one message per unit."""
    _require_draft(plan)
    with unit_of_work(session, actor=actor, now=now) as uow:
        outcome = publish_in(session, uow, plan=plan, actor=actor, now=now, strict=True)
    return {
        "plan_id": plan.id,
        "state": str(plan.state),
        "published_at": plan.published_at,
        "assignments": outcome.assignments,
        "withdrawn": outcome.withdrawn,
        "units_notified": outcome.units_notified,
        "warnings": [w.model_dump(mode="json") for w in outcome.warnings],
    }


def publish_in(
    session: Session, uow: UnitOfWork, *, plan: Plan, actor: User | None, now: datetime, strict: bool
) -> Outcome:
    """Publish inside the caller's unit of work. `strict`: unconfirmed unit names refuse (the
    office's publish); otherwise they are reported and left out (a one-step scripted import)."""
    _require_draft(plan)
    assert plan.id is not None
    outcome = Outcome()
    unresolved = unresolved_names(session, plan_id=plan.id)
    if unresolved and strict:
        names = "、".join(u["name"] for u in unresolved[:10])
        raise Conflict(
            f"有{len(unresolved)}个单位名称尚未确认（{names}），请先确认再发布",
            code="plan.unresolved_units",
            details={"names": [u["name"] for u in unresolved]},
        )
    outcome.warnings += [
        _unresolved_warning(u, "单位“{name}”未确认，相关任务未交办给它（任务{tasks}）") for u in unresolved
    ]
    uow.track(plan, action="plan.publish")
    plan.state = PlanState.published
    plan.published_at = now
    created: list[tuple[Assignment, Task]] = []
    tasks = _tasks(session, plan.id)
    with_units = _tasks_with_units(session, [t.id for t in tasks if t.id is not None])
    for task in tasks:
        if task.id not in with_units:
            if task.parent_id is None:
                outcome.warnings.append(
                    ImportWarning(
                        code="task.unassigned",
                        message=f"任务{task.code}“{task.title[:30]}”未指定责任单位，暂未交办",
                        text=task.code,
                    )
                )
            continue
        try:
            result = assignment_service.assign(
                session=session, task=task, actor=actor, now=now, uow=uow, publication=True
            )
        except Unprocessable as exc:
            outcome.warnings.append(
                ImportWarning(code="task.unassigned", message=f"任务{task.code}暂未交办：{exc.message}")
            )
            continue
        created += [(a, task) for a in result.created]
    outcome.assignments = len(created)
    old = _supersede(session, uow, plan=plan)
    withdrawn: dict[int, int] = {}
    if old is not None:
        announced = {a.unit_id for a, _ in created}
        withdrawn = assignment_service.withdraw_superseded(
            session, uow, old=old, new=plan, actor=actor, now=now, announced=announced
        )
        outcome.withdrawn = sum(withdrawn.values())
    outcome.units_notified = _tell_units(
        session, uow, plan=plan, created=created, actor=actor, now=now, supersedes=old, withdrawn=withdrawn
    )
    outcome.warnings += importing.empty_groups(session, [t.id for t in tasks if t.id is not None])
    outcome.warnings += importing.past_deadline_warnings(
        [t.due_date for t in tasks], now=now, zone=zones.of_plan(plan)
    )
    return outcome


def _supersede(session: Session, uow: UnitOfWork, *, plan: Plan) -> Plan | None:
    """The earlier version this plan replaces, now marked superseded (None: it replaces none)."""
    if plan.supersedes_id is None:
        return None
    old = session.get(Plan, plan.supersedes_id)
    if old is None or old.state == PlanState.superseded:
        return None
    uow.track(old, action="plan.supersede")
    old.state = PlanState.superseded
    return old


def _tell_units(
    session: Session,
    uow: UnitOfWork,
    *,
    plan: Plan,
    created: list[tuple[Assignment, Task]],
    actor: User | None,
    now: datetime,
    supersedes: Plan | None = None,
    withdrawn: dict[int, int] | None = None,
) -> int:
    by_unit: dict[int, list[tuple[Assignment, Task]]] = defaultdict(list)
    for a, task in created:
        by_unit[a.unit_id].append((a, task))
    names = dict(
        session.execute(sa.select(col(Unit.id), col(Unit.name)).where(col(Unit.id).in_(by_unit))).all()
    )
    today = calendar.local_date(now, zones.of_plan(plan))
    actor_ref = events.Ref(id=actor.id, name=actor.full_name or actor.username) if actor else None
    for unit_id, items in by_unit.items():
        past = [a for a, _ in items if a.due_date is not None and a.due_date < today]
        uow.emit(
            events.PlanPublished(
                plan=events.Ref(id=plan.id, name=plan.title, code=plan.doc_no),
                unit=events.Ref(id=unit_id, name=names.get(unit_id, "")),
                items=[
                    events.PublishedItem(
                        assignment_id=a.id or 0,
                        task=events.Ref(id=t.id, name=t.title, code=t.code),
                        role=str(a.role),
                        period=a.period,
                        due_date=a.due_date,
                        past_due=a.due_date is not None and a.due_date < today,
                    )
                    for a, t in items[:ITEMS_PER_MESSAGE]
                ],
                total=len(items),
                past_due=len(past),
                supersedes=(
                    events.Ref(id=supersedes.id, name=supersedes.title, code=supersedes.doc_no)
                    if supersedes is not None
                    else None
                ),
                withdrawn=(withdrawn or {}).get(unit_id, 0),
                actor=actor_ref,
                link=f"{links.assignments()}?plan_id={plan.id}",
            ),
            dedupe_key=f"plan.published:{plan.id}:{unit_id}",
            plan_id=plan.id,
            unit_id=unit_id,
        )
    return len(by_unit)


# --- editing a draft ------------------------------------------------------------------------------


def _shift(day: date | None, *, years: int, months: int, days: int) -> date | None:
    if day is None:
        return None
    month_index = day.year * 12 + (day.month - 1) + years * 12 + months
    year, month = divmod(month_index, 12)
    month += 1
    last = stdlib_calendar.monthrange(year, month)[1]
    # The end of a month stays the end of the month (2024-02-29 + 1 year → 2025-02-28).
    at_end = day.day == stdlib_calendar.monthrange(day.year, day.month)[1]
    moved = date(year, month, last if at_end else min(day.day, last))
    return date.fromordinal(moved.toordinal() + days)


def shift_deadlines(
    session: Session,
    *,
    plan: Plan,
    actor: User,
    now: datetime,
    years: int = 0,
    months: int = 0,
    days: int = 0,
) -> dict[str, Any]:
    """Move every date of a draft — tasks, targets, indicators and the plan period — by the same span."""
    _require_draft(plan)
    if not (years or months or days):
        raise Unprocessable("请给出顺延的年数、月数或天数", code="plan.shift_empty")
    assert plan.id is not None
    try:
        _shift(date(2000, 1, 31), years=years, months=months, days=days)
        _shift(date(2099, 12, 31), years=years, months=months, days=days)
    except (ValueError, OverflowError) as exc:
        raise Unprocessable("顺延幅度超出范围", code="plan.shift_out_of_range") from exc
    span = {"years": years, "months": months, "days": days}
    tasks = _tasks(session, plan.id)
    task_ids = [t.id for t in tasks if t.id is not None]
    targets = (
        list(session.exec(select(Target).where(col(Target.task_id).in_(task_ids))).all()) if task_ids else []
    )
    indicators = list(session.exec(select(Indicator).where(Indicator.plan_id == plan.id)).all())
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(plan, action="plan.shift_deadlines")
        plan.period_start = _shift(plan.period_start, **span)
        plan.period_end = _shift(plan.period_end, **span)
        moved = 0
        for task in tasks:
            if task.due_date is not None:
                task.due_date = _shift(task.due_date, **span)
                task.updated_at = now
                moved += 1
        for target in targets:
            target.due_date = _shift(target.due_date, **span)
        for ind in indicators:
            if ind.due_date is not None:
                ind.due_date = _shift(ind.due_date, **span)
                ind.updated_at = now
        uow.record(
            action="plan.shift_deadlines",
            entity_type="plan",
            entity_id=plan.id,
            after={**span, "tasks": moved, "targets": len(targets), "indicators": len(indicators)},
        )
    return {
        "plan_id": plan.id,
        "tasks": moved,
        "targets": len(targets),
        "indicators": len(indicators),
        **span,
    }


def resolve_name(
    session: Session,
    *,
    plan: Plan,
    actor: User,
    now: datetime,
    name: str,
    unit_id: int | None = None,
    create: bool = False,
    kind: UnitKind | None = None,
    remember: bool = True,
) -> dict[str, Any]:
    """Say which unit a name in the draft means (an existing one, or a new one); every task of the
    draft that writes the name gets it. `remember`: keep the name as the unit's alias for next time."""
    _require_draft(plan)
    assert plan.id is not None
    if (unit_id is None) == (not create):
        raise Unprocessable("请选择已有单位，或选择新建单位（二者选一）", code="plan.resolve_choice")
    rows = list(
        session.exec(
            select(TaskUnit)
            .join(Task, col(Task.id) == col(TaskUnit.task_id))
            .where(
                col(Task.plan_id) == plan.id,
                col(TaskUnit.label) == name,
                col(TaskUnit.unit_id).is_(None),
                col(TaskUnit.group_id).is_(None),
            )
        ).all()
    )
    if not rows:
        raise NotFound(
            f"草稿中没有待确认的单位名称“{name}”", code="plan.name_not_found", details={"name": name}
        )
    with unit_of_work(session, actor=actor, now=now) as uow:
        if create:
            if unit_service.find_by_name(session, name=name) is not None:
                raise Conflict(f"单位“{name}”已存在", code="unit.duplicate")
            unit = uow.add(
                Unit(name=name, kind=kind or importing.guess_kind(name), created_at=now, updated_at=now),
                action="unit.create",
            )
            uow.flush()
        else:
            found = session.get(Unit, unit_id)
            if found is None or not found.is_active:
                raise NotFound("单位不存在", code="unit.not_found", details={"unit_id": unit_id})
            unit = found
            taken = session.exec(select(UnitAlias.id).where(UnitAlias.alias == name)).first()
            if remember and name != unit.name and taken is None:
                uow.add(
                    UnitAlias(alias=name, unit_id=unit.id or 0),
                    action="unit_alias.create",
                    snapshot=unit_service.alias_snapshot,
                )
        for row in rows:
            row.unit_id = unit.id
            row.label = None
        uow.record(
            action="plan.resolve_unit",
            entity_type="plan",
            entity_id=plan.id,
            after={"name": name, "unit_id": unit.id, "created": create, "task_units": len(rows)},
        )
    return {
        "name": name,
        "unit_id": unit.id,
        "unit_name": unit.name,
        "created": create,
        "task_units": len(rows),
    }
