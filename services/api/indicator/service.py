"""Indicators (主要指标) per plan, their values per period, and progress, forecast and RAG.

Indicators are plan-level goals every signed-in user may read, like the unit directory; values
are written by the owner unit's people or the office.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.indicator import forecast
from duban import calendar, periods, zones
from duban.db import columns
from duban.errors import Conflict, Forbidden, NotFound, Unprocessable
from duban.models import Indicator, IndicatorValue, Plan, Role, Task, Unit, User
from duban.uow import unit_of_work

COLUMNS = columns(
    Indicator.id,
    Indicator.plan_id,
    Indicator.task_id,
    Indicator.owner_unit_id,
    Indicator.name,
    Indicator.target_value,
    Indicator.unit,
    Indicator.comparator,
    Indicator.baseline_value,
    Indicator.baseline_date,
    Indicator.due_date,
    Indicator.cadence,
    Indicator.source_text,
    Indicator.version,
    Indicator.created_at,
    Indicator.updated_at,
)
VALUE_COLUMNS = columns(
    IndicatorValue.id,
    IndicatorValue.indicator_id,
    IndicatorValue.period,
    IndicatorValue.period_end,
    IndicatorValue.value,
    IndicatorValue.unit_id,
    IndicatorValue.report_id,
    IndicatorValue.reported_by_id,
    IndicatorValue.reported_at,
)


def visible_indicators(user: User, *columns: Any) -> Select[Any]:  # noqa: ARG001 - same shape as every visible_*
    return select(*columns) if columns else select(Indicator)


def get(session: Session, *, user: User, indicator_id: int) -> Indicator:
    indicator = session.exec(visible_indicators(user).where(col(Indicator.id) == indicator_id)).first()  # type: ignore[call-overload]
    if indicator is None:
        raise NotFound("指标不存在", code="indicator.not_found")
    found: Indicator = indicator
    return found


def _check_refs(session: Session, data: dict[str, Any], plan_id: int) -> None:
    if session.get(Plan, plan_id) is None:
        raise Unprocessable("计划不存在", code="indicator.unknown_plan", details={"plan_id": plan_id})
    task_id = data.get("task_id")
    if task_id is not None:
        task = session.get(Task, task_id)
        if task is None or task.plan_id != plan_id:
            raise Unprocessable(
                "任务不存在或不属于该计划", code="indicator.unknown_task", details={"task_id": task_id}
            )
    owner = data.get("owner_unit_id")
    if owner is not None and session.get(Unit, owner) is None:
        raise Unprocessable("责任单位不存在", code="indicator.unknown_unit", details={"owner_unit_id": owner})


def create(*, session: Session, user: User, data: dict[str, Any], now: datetime) -> Indicator:
    _check_refs(session, data, data["plan_id"])
    with unit_of_work(session, actor=user, now=now) as uow:
        indicator = uow.add(
            Indicator.model_validate({**data, "created_at": now, "updated_at": now}),
            action="indicator.create",
        )
    return indicator


def update(
    *, session: Session, user: User, indicator: Indicator, changes: dict[str, Any], now: datetime
) -> Indicator:
    _check_refs(session, changes, indicator.plan_id)
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.track(indicator, action="indicator.update")
        for key, value in changes.items():
            setattr(indicator, key, value)
    return indicator


def delete(*, session: Session, user: User, indicator: Indicator, now: datetime) -> None:
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.delete(indicator, action="indicator.delete")


def add_value(
    *, session: Session, user: User, indicator: Indicator, period: str, value: float, now: datetime
) -> IndicatorValue:
    office = user.has_role(Role.office, Role.admin) or user.is_service_account
    if not office and (indicator.owner_unit_id is None or user.unit_id != indicator.owner_unit_id):
        raise Forbidden("只有指标责任单位或督办办公室可以填报指标值", code="indicator.not_owner")
    parsed = periods.parse(period)
    row = session.exec(
        select(IndicatorValue).where(
            IndicatorValue.indicator_id == indicator.id, IndicatorValue.period == parsed.key
        )
    ).first()
    try:
        with unit_of_work(session, actor=user, now=now) as uow:
            if row is None:
                row = uow.add(
                    IndicatorValue(
                        indicator_id=indicator.id or 0,
                        period=parsed.key,
                        period_end=parsed.end,
                        value=value,
                        reported_at=now,
                    ),
                    action="indicator.value",
                )
            else:
                uow.track(row, action="indicator.value")
            row.value = value
            row.period_end = parsed.end
            row.unit_id = user.unit_id
            row.reported_by_id = user.id
            row.reported_at = now
            row.report_id = None
    except IntegrityError as exc:  # a concurrent writer stored the same period first
        raise Conflict("该期指标值正被他人填报，请重试", code="indicator.value_conflict") from exc
    return row


def values_of(session: Session, *, indicator_ids: list[int]) -> dict[int, list[tuple[date, float]]]:
    out: dict[int, list[tuple[date, float]]] = defaultdict(list)
    if not indicator_ids:
        return out
    stmt = select(
        col(IndicatorValue.indicator_id), col(IndicatorValue.period_end), col(IndicatorValue.value)
    ).where(col(IndicatorValue.indicator_id).in_(indicator_ids))
    for ind_id, period_end, value in session.execute(stmt):
        out[ind_id].append((period_end, value))
    return out


def status_of(row: dict[str, Any], values: list[tuple[date, float]], *, today: date) -> dict[str, Any] | None:
    if row["target_value"] is None:
        return None
    result = forecast.evaluate(
        target=row["target_value"],
        comparator=row["comparator"],
        baseline=row["baseline_value"],
        values=values,
        due=row["due_date"],
        today=today,
        unit=row.get("unit"),
    )
    latest = max(values)[1] if values else None
    return {
        "progress": result.progress,
        "forecast": result.forecast,
        "rag": result.rag,
        "reason": result.reason,
        "latest_value": latest,
    }


def with_status(session: Session, *, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    values = values_of(session, indicator_ids=[r["id"] for r in rows])
    plan_zones = (
        dict(
            session.execute(
                select(Plan.id, Plan.timezone).where(col(Plan.id).in_({r["plan_id"] for r in rows}))
            ).all()
        )
        if rows
        else {}
    )
    for r in rows:
        today = calendar.local_date(now, zones.of(plan_zones.get(r["plan_id"])))
        r["status"] = status_of(r, values.get(r["id"], []), today=today)
    return rows


def list_stmt(user: User, *, filters: dict[str, Any]) -> Select[Any]:
    stmt = visible_indicators(user, *COLUMNS)
    for name in ("plan_id", "owner_unit_id", "task_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Indicator, name) == filters[name])
    return stmt
