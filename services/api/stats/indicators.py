"""Indicator status for stats, bulletins and the board: `api.indicator.forecast.evaluate`, plus the
answer for an indicator without a quantified target, which has nothing to evaluate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from api.indicator import forecast
from duban import comparators


@dataclass(frozen=True, slots=True)
class NoTargetStatus:
    progress: float | None = None
    forecast: float | None = None
    rag: str = "green"
    reason: str = "无量化目标"


def evaluate(
    *,
    target: float | None,
    comparator: str,
    baseline: float | None,
    values: list[tuple[date, float]],
    due: date | None,
    today: date,
    unit: str | None = None,
) -> forecast.IndicatorStatus | NoTargetStatus:
    if target is None:
        return NoTargetStatus()
    return forecast.evaluate(
        target=target,
        comparator=comparator,
        baseline=baseline,
        values=values,
        due=due,
        today=today,
        unit=unit,
    )


def achieved(*, target: float | None, comparator: str, value: float | None) -> bool:
    if target is None or value is None:
        return False
    return comparators.meets(value, target=target, comparator=comparator)
