"""Reporting periods as strings: "2025" (year), "2025-Q2", "2025-06" and ISO weeks "2025-W23"."""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date, timedelta

from duban.errors import Unprocessable
from duban.models import ReportCadence

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_WEEK = re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$")


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    kind: str  # annual | quarterly | monthly | weekly
    start: date
    end: date


def _invalid(value: str) -> Unprocessable:
    return Unprocessable(
        "报告期格式无效，应为 2025、2025-Q2、2025-06 或 2025-W23",
        code="period.invalid",
        details={"period": value},
    )


def parse(value: str) -> Period:
    value = value.strip()
    if m := _YEAR.match(value):
        y = int(m[1])
        return Period(value, "annual", date(y, 1, 1), date(y, 12, 31))
    if m := _QUARTER.match(value):
        y, q = int(m[1]), int(m[2])
        last = q * 3
        return Period(value, "quarterly", date(y, last - 2, 1), date(y, last, _cal.monthrange(y, last)[1]))
    if m := _MONTH.match(value):
        y, mo = int(m[1]), int(m[2])
        return Period(value, "monthly", date(y, mo, 1), date(y, mo, _cal.monthrange(y, mo)[1]))
    if m := _WEEK.match(value):
        try:
            start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError as exc:  # week 53 of a year that has 52
            raise _invalid(value) from exc
        return Period(value, "weekly", start, start + timedelta(days=6))
    raise _invalid(value)


def period_of(day: date, cadence: str) -> str:
    """The period of `cadence` that contains `day`."""
    if cadence == ReportCadence.weekly:
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if cadence == ReportCadence.quarterly:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if cadence == ReportCadence.monthly:
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}"


def for_cadence(value: str, cadence: str) -> Period:
    """Parse a report period and check it is one of the plan's cadence."""
    period = parse(value)
    if period.kind != cadence:
        raise Unprocessable(
            f"该计划按“{_CADENCE_ZH.get(cadence, cadence)}”填报，报告期“{value}”不符",
            code="report.period_cadence_mismatch",
            details={"period": value, "cadence": cadence},
        )
    return period


_CADENCE_ZH = {"weekly": "周", "monthly": "月", "quarterly": "季度", "annual": "年"}


def due_date(period: Period, *, due_day: int) -> date:
    """The nominal deadline of a report period (before moving off holidays).

    Monthly: `due_day` of the month; quarterly: `due_day` of its last month; weekly: the Friday.
    """
    if period.kind == "weekly":
        return period.start + timedelta(days=4)
    end = period.end
    return date(end.year, end.month, min(due_day, end.day))
