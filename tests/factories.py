"""Plain factories: they add and flush, and never commit."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from duban.models import (
    Plan,
    Role,
    Section,
    Task,
    TaskUnit,
    Unit,
    UnitGroup,
    UnitGroupMember,
    UnitKind,
    UnitRole,
    User,
)

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def make_unit(session: Session, **kw: Any) -> Unit:
    n = _n()
    unit = Unit(name=kw.pop("name", f"测试单位{n}"), kind=kw.pop("kind", UnitKind.department), **kw)
    session.add(unit)
    session.flush()
    return unit


def make_user(
    session: Session, *, roles: list[str] | None = None, password: str | None = None, **kw: Any
) -> User:
    from api.security import hash_password

    n = _n()
    user = User(
        username=kw.pop("username", f"user{n}"),
        roles=[str(r) for r in (roles or [Role.viewer])],
        password_hash=hash_password(password) if password else None,
        **kw,
    )
    session.add(user)
    session.flush()
    return user


def make_plan(session: Session, **kw: Any) -> Plan:
    n = _n()
    plan = Plan(
        title=kw.pop("title", f"测试行动计划{n}"),
        period_start=kw.pop("period_start", date(2024, 1, 1)),
        period_end=kw.pop("period_end", date(2025, 12, 31)),
        **kw,
    )
    session.add(plan)
    session.flush()
    return plan


def make_section(session: Session, *, plan: Plan, **kw: Any) -> Section:
    n = _n()
    section = Section(
        plan_id=plan.id, code=kw.pop("code", f"S{n}"), title=kw.pop("title", f"重点任务{n}"), **kw
    )
    session.add(section)
    session.flush()
    return section


def make_task(session: Session, *, plan: Plan, section: Section | None = None, **kw: Any) -> Task:
    n = _n()
    task = Task(
        plan_id=plan.id,
        section_id=section.id if section else None,
        code=kw.pop("code", f"T{n}"),
        title=kw.pop("title", f"测试任务{n}"),
        due_date=kw.pop("due_date", date(2025, 12, 31)),
        **kw,
    )
    session.add(task)
    session.flush()
    return task


def make_assignment(
    session: Session, *, task: Task | None = None, unit: Unit | None = None, **kw: Any
) -> Any:
    """An open assignment (default due 2025-12-31, the effective local date, and its end instant)."""
    from zoneinfo import ZoneInfo

    from duban import calendar as cal
    from duban.models import Assignment, UnitRole

    if task is None:
        task = make_task(session, plan=kw.pop("plan", None) or make_plan(session))
    else:
        kw.pop("plan", None)
    unit = unit or make_unit(session)
    due = kw.pop("due_date", date(2025, 12, 31))
    row = Assignment(
        plan_id=task.plan_id,
        section_id=task.section_id,
        task_id=task.id,
        unit_id=unit.id,
        role=kw.pop("role", UnitRole.lead),
        due_date=due,
        due_at=cal.end_of_day(due, ZoneInfo("Asia/Shanghai")) if due else None,
        original_due_date=due,
        assigned_at=kw.pop("assigned_at", datetime(2025, 1, 2, tzinfo=UTC)),
        **kw,
    )
    session.add(row)
    session.flush()
    return row


def make_report(session: Session, *, assignment: Any, period: str, **kw: Any) -> Any:
    """A progress report of `assignment` for `period` (default: submitted)."""
    from duban.models import ProgressReport, ProgressReportState

    report = ProgressReport(
        assignment_id=assignment.id,
        unit_id=assignment.unit_id,
        plan_id=assignment.plan_id,
        period=period,
        state=kw.pop("state", ProgressReportState.submitted),
        **kw,
    )
    session.add(report)
    session.flush()
    return report


def make_task_unit(
    session: Session,
    *,
    task: Task,
    role: str = "lead",
    unit: Unit | None = None,
    group: UnitGroup | None = None,
    position: int | None = None,
) -> TaskUnit:
    row = TaskUnit(
        task_id=task.id or 0,
        role=UnitRole(role),
        unit_id=unit.id if unit else None,
        group_id=group.id if group else None,
        position=_n() if position is None else position,
    )
    session.add(row)
    session.flush()
    return row


def make_group(
    session: Session, *, members: list[Unit] | None = None, kinds: list[str] | None = None, **kw: Any
) -> UnitGroup:
    group = UnitGroup(name=kw.pop("name", f"测试单位组{_n()}"), member_kinds=kinds or [], **kw)
    session.add(group)
    session.flush()
    session.add_all(UnitGroupMember(group_id=group.id or 0, unit_id=u.id or 0) for u in members or [])
    session.flush()
    return group


def make_indicator(session: Session, *, plan: Plan, **kw: Any) -> Any:
    from duban.models import Indicator

    n = _n()
    indicator = Indicator(plan_id=plan.id, name=kw.pop("name", f"测试指标{n}"), **kw)
    session.add(indicator)
    session.flush()
    return indicator
