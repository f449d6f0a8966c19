"""Indicator progress, a linear forecast to the due date and its RAG light (红黄绿灯).

Pure functions over numbers and dates so that the API, statistics and bulletins agree on one
answer. The trend is an ordinary least-squares line through (period_end, value), with x in days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Literal

from duban import amounts, comparators

Rag = Literal["green", "yellow", "red"]

# A forecast that misses the target by less than this share of it is "at risk", not "behind".
RISK_MARGIN = 0.10


@dataclass(frozen=True, slots=True)
class IndicatorStatus:
    progress: float | None
    forecast: float | None
    rag: Rag
    reason: str


def linear_trend(points: list[tuple[date, float]]) -> tuple[float, float] | None:
    """(intercept, slope per day) of the least-squares line, x = days since the first point.

    None when the dates do not determine a line (fewer than two distinct dates).
    """
    if len({d for d, _ in points}) < 2:
        return None
    origin = min(d for d, _ in points)
    # Small x keeps the arithmetic exact enough for hand-computed checks (ordinals are ~739000).
    xs = [float((d - origin).days) for d, _ in points]
    ys = [v for _, v in points]
    n = len(points)
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    return my - slope * mx, slope


def forecast_at(points: list[tuple[date, float]], day: date) -> float | None:
    trend = linear_trend(points)
    if trend is None:
        return None
    intercept, slope = trend
    return intercept + slope * (day - min(d for d, _ in points)).days


def shortfall(value: float, *, target: float) -> float:
    """How far `value` is from `target`, as a share of the target (absolute when the target is 0)."""
    gap = abs(target - value)
    return gap / abs(target) if target != 0 else gap


def evaluate(
    *,
    target: float,
    comparator: str,
    baseline: float | None,
    values: list[tuple[date, float]],
    due: date | None,
    today: date,
    unit: str | None = None,
) -> IndicatorStatus:
    """Progress toward the target, the trend's value on the due date, and the light with a reason.

    `unit` only shapes the reason's wording: a count (家, 个) is written whole, with its unit."""

    def _fmt(x: float) -> str:
        return amounts.with_unit(x, unit, target=target)

    if comparators.normalize(comparator) is None:
        raise ValueError(f"unknown comparator {comparator!r}")
    points = sorted(values)
    overdue = due is not None and today > due
    if not points:
        if overdue:
            return IndicatorStatus(None, None, "red", "已过截止日期，仍无填报数据")
        return IndicatorStatus(None, None, "yellow", "尚无填报数据，无法判断进度")

    latest = points[-1][1]
    progress = comparators.progress(latest, target=target, comparator=comparator, baseline=baseline)
    met = comparators.meets(latest, target=target, comparator=comparator)
    forecast = forecast_at(points, due) if due is not None else None
    if forecast is not None and not math.isfinite(forecast):
        forecast = None  # values stored before their bounds (10^15): a trend that overflowed

    if overdue:
        if met:
            return IndicatorStatus(progress, forecast, "green", f"已按期达到目标（最新值{_fmt(latest)}）")
        return IndicatorStatus(
            progress, forecast, "red", f"已过截止日期，目标未达成（最新值{_fmt(latest)}，目标{_fmt(target)}）"
        )
    if met:
        return IndicatorStatus(progress, forecast, "green", f"已达到目标值（最新值{_fmt(latest)}）")
    if due is None:
        return IndicatorStatus(progress, None, "yellow", "未设截止日期，无法预测，尚未达到目标")
    if forecast is None:
        return IndicatorStatus(progress, None, "yellow", "填报数据不足（少于两期），无法预测，存在风险")
    if comparators.meets(forecast, target=target, comparator=comparator):
        return IndicatorStatus(
            progress, forecast, "green", f"按当前趋势预计到期值{_fmt(forecast)}，可达到目标{_fmt(target)}"
        )
    gap = shortfall(forecast, target=target)
    if gap < RISK_MARGIN:
        return IndicatorStatus(
            progress,
            forecast,
            "yellow",
            f"按当前趋势预计到期值{_fmt(forecast)}，距目标{_fmt(target)}差{gap:.1%}，存在风险",
        )
    return IndicatorStatus(
        progress,
        forecast,
        "red",
        f"按当前趋势预计到期值{_fmt(forecast)}，距目标{_fmt(target)}差{gap:.1%}，进度滞后",
    )


# The name statistics and bulletins import; same keyword arguments and result as `evaluate`.
rag_for = evaluate
