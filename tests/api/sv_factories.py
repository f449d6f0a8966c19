"""Factories for the supervision tests (stats, bulletins, assessments, board); they flush, never commit."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from duban.models import Plan, Task, Unit

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def make_sv_assignment(session: Session, *, task: Task, unit: Unit, **kw: Any) -> Any:
    """An assignment whose due_at is the end of due_date in Asia/Shanghai (as the state machine sets it)."""
    from duban import calendar
    from duban.models import Assignment, UnitRole

    due = kw.pop("due_date", task.due_date)
    kw.setdefault("assigned_at", datetime(2025, 1, 2, tzinfo=UTC))
    assignment = Assignment(
        plan_id=task.plan_id,
        section_id=task.section_id,
        task_id=task.id,
        unit_id=unit.id,
        role=kw.pop("role", UnitRole.lead),
        due_date=due,
        due_at=calendar.end_of_day(due, calendar.tz("Asia/Shanghai")) if due else None,
        **kw,
    )
    session.add(assignment)
    session.flush()
    return assignment


def make_sv_indicator(session: Session, *, plan: Plan, **kw: Any) -> Any:
    from duban.models import Indicator

    n = _n()
    indicator = Indicator(plan_id=plan.id, name=kw.pop("name", f"测试指标{n}"), **kw)
    session.add(indicator)
    session.flush()
    return indicator


def make_sv_indicator_value(
    session: Session, *, indicator: Any, period_end: date, value: float, **kw: Any
) -> Any:
    from datetime import UTC, datetime

    from duban.models import IndicatorValue

    row = IndicatorValue(
        indicator_id=indicator.id,
        period=kw.pop("period", period_end.isoformat()[:7]),
        period_end=period_end,
        value=value,
        reported_at=kw.pop(
            "reported_at", datetime(period_end.year, period_end.month, period_end.day, tzinfo=UTC)
        ),
        **kw,
    )
    session.add(row)
    session.flush()
    return row
