"""Plain factories: they add and flush, and never commit."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlmodel import Session

from duban.models import Plan, Role, Section, Task, Unit, UnitKind, User

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def make_unit(session: Session, **kw: Any) -> Unit:
    n = _n()
    unit = Unit(name=kw.pop("name", f"测试单位{n}"), kind=kw.pop("kind", UnitKind.department), **kw)
    session.add(unit)
    session.flush()
    return unit


def make_user(session: Session, *, roles: list[str] | None = None, password: str | None = None, **kw: Any) -> User:
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
    section = Section(plan_id=plan.id, code=kw.pop("code", f"S{n}"), title=kw.pop("title", f"重点任务{n}"), **kw)
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


def make_indicator(session: Session, *, plan: Plan, **kw: Any) -> Any:
    from duban.models import Indicator

    n = _n()
    indicator = Indicator(plan_id=plan.id, name=kw.pop("name", f"测试指标{n}"), **kw)
    session.add(indicator)
    session.flush()
    return indicator
