"""Indicator status for stats, bulletins and the board.

Uses `api.indicator.forecast.evaluate` when that package is installed; until then a minimal
linear fallback with the same signature keeps the dashboards working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass
class FallbackStatus:
    progress: float | None
    forecast: float | None
    rag: str
    reason: str


def _fallback(
    *,
    target: float | None,
    comparator: str,
    baseline: float | None,
    values: list[tuple[date, float]],
    due: date | None,
    today: date,
) -> FallbackStatus:
    if target is None:
        return FallbackStatus(None, None, "green", "无量化目标")
    if not values:
        return FallbackStatus(0.0 if baseline is not None else None, None, "yellow", "尚未填报指标值")
    values = sorted(values)
    last_day, last = values[-1]
    lower_is_better = comparator in ("<=", "<")
    start = baseline if baseline is not None else (values[0][1] if len(values) > 1 else 0.0)
    span = target - start
    if span == 0:
        progress = 1.0
    else:
        progress = (last - start) / span
    progress = max(0.0, min(progress, 1.0))
    achieved = last <= target if lower_is_better else last >= target
    forecast = last
    if len(values) >= 2 and due is not None:
        first_day, first = values[0]
        days = (last_day - first_day).days
        if days > 0:
            forecast = last + (last - first) / days * max((due - last_day).days, 0)
    if achieved:
        return FallbackStatus(progress, forecast, "green", "已达到目标")
    if due is not None and today > due:
        return FallbackStatus(progress, forecast, "red", "已过期限仍未达到目标")
    on_track = forecast <= target if lower_is_better else forecast >= target
    if on_track:
        return FallbackStatus(progress, forecast, "green", "按当前趋势可如期达成")
    return FallbackStatus(progress, forecast, "yellow", "进度低于预期，按当前趋势到期难以达成")


def evaluate(**kw: Any) -> Any:
    if kw.get("target") is None:
        return _fallback(**kw)
    try:
        from api.indicator.forecast import evaluate as real_evaluate
    except ImportError:
        return _fallback(**kw)
    return real_evaluate(**kw)


def achieved(*, target: float | None, comparator: str, value: float | None) -> bool:
    if target is None or value is None:
        return False
    return {
        ">=": value >= target,
        ">": value > target,
        "<=": value <= target,
        "<": value < target,
        "=": value == target,
        "==": value == target,
    }.get(comparator, value >= target)
