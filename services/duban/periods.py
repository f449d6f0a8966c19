"""Reporting periods: the one owner of the word "period" (周期 / 报告期).

A period has a kind (week, month, quarter, half, year), a key as stored in the database and sent
in events ("2025-W23", "2025-06", "2025-Q2", "2025-H1", "2025"), inclusive local-date bounds, and
a people's name ("2025年第二季度"). Plans, tasks and indicators speak of cadences ("monthly",
"quarterly", …); `kind_of` maps every cadence spelling to its kind, so nothing else compares
cadence strings. Weeks are ISO weeks (Monday to Sunday), so "2020-W53" ends on 2021-01-03.

Due dates here are nominal (the calendar day the rule names); moving them off rest days is
`duban.calendar.effective_due_date`'s job.

A report on a period (a bulletin, an assessment) describes it *as of* one instant, its cut-off: the
period's end (00:00 after its last day, in the plan's zone), or now while the period still runs.
`bounds`, `cutoff` and `through` are the only place that instant is worked out.
"""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from duban import calendar
from duban.errors import Unprocessable

Kind = Literal["week", "month", "quarter", "half", "year"]
KINDS: tuple[Kind, ...] = ("week", "month", "quarter", "half", "year")
KIND_NAMES: dict[str, str] = {"week": "周", "month": "月", "quarter": "季度", "half": "半年", "year": "年度"}

# Every cadence spelling in the tables and schemas (ReportCadence, Recurrence, Indicator.cadence).
_CADENCE_KINDS: dict[str, Kind] = {
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "half_yearly": "half",
    "semiannual": "half",
    "annual": "year",
    "yearly": "year",
    **{k: k for k in KINDS},
}

_KEY = re.compile(
    r"^(?P<year>\d{4})(?:"
    r"-W(?P<week>0[1-9]|[1-4]\d|5[0-3])"
    r"|-(?P<month>0[1-9]|1[0-2])"
    r"|-Q(?P<quarter>[1-4])"
    r"|-H(?P<half>[12])"
    r")?$"
)
# The deadline of a weekly report: the Friday of its week.
_WEEKLY_DUE_WEEKDAY = 4


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start: date
    end: date  # inclusive

    @property
    def key(self) -> str:
        """The stored form: "2025-W23", "2025-06", "2025-Q2", "2025-H1" or "2025"."""
        s = self.start
        if self.kind == "week":
            iso = s.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self.kind == "month":
            return f"{s.year}-{s.month:02d}"
        if self.kind == "quarter":
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        if self.kind == "half":
            return f"{s.year}-H{1 if s.month <= 6 else 2}"
        return f"{s.year}"

    @property
    def label(self) -> str:
        """People's name: 2025年11月, 2025年第四季度, 2025年上半年, 2025年度, 2025年第48周（…）."""
        s = self.start
        if self.kind == "month":
            return f"{s.year}年{s.month}月"
        if self.kind == "quarter":
            return f"{s.year}年第{'一二三四'[(s.month - 1) // 3]}季度"
        if self.kind == "half":
            return f"{s.year}年{'上' if s.month <= 6 else '下'}半年"
        if self.kind == "year":
            return f"{s.year}年度"
        iso = s.isocalendar()
        return f"{iso.year}年第{iso.week}周（{s:%m月%d日}—{self.end:%m月%d日}）"

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def _invalid_kind(kind: str) -> Unprocessable:
    return Unprocessable(
        "周期类型只能是周、月、季度、半年或年",
        code="period.invalid_kind",
        details={"period_kind": kind},
    )


def kind_of(cadence: str) -> Kind:
    """The period kind of a cadence ("monthly" → "month"); a kind maps to itself."""
    try:
        return _CADENCE_KINDS[str(cadence)]
    except KeyError:
        raise _invalid_kind(str(cadence)) from None


def _month_end(year: int, month: int) -> date:
    return date(year, month, _cal.monthrange(year, month)[1])


def period_of(kind: str, day: date) -> Period:
    """The period of `kind` (or of a cadence such as "monthly") that contains `day`."""
    k = kind_of(kind)
    if k == "week":
        start = day - timedelta(days=day.weekday())
        return Period(k, start, start + timedelta(days=6))
    if k == "month":
        return Period(k, day.replace(day=1), _month_end(day.year, day.month))
    if k == "quarter":
        first = 3 * ((day.month - 1) // 3) + 1
        return Period(k, date(day.year, first, 1), _month_end(day.year, first + 2))
    if k == "half":
        first = 1 if day.month <= 6 else 7
        return Period(k, date(day.year, first, 1), _month_end(day.year, first + 5))
    return Period(k, date(day.year, 1, 1), date(day.year, 12, 31))


def bounds(period: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants (UTC) the period begins and ends in `zone`: 00:00 of its first day and 00:00
    after its last, so 2025年度 in Asia/Shanghai is [2024-12-31 16:00Z, 2025-12-31 16:00Z)."""
    return calendar.start_of_day(period.start, zone), calendar.end_of_day(period.end, zone)


def cutoff(period: Period, zone: ZoneInfo, now: datetime) -> datetime:
    """The instant a report on `period` describes: the period's end once it is over, else now."""
    return min(now, bounds(period, zone)[1])


def through(instant: datetime, zone: ZoneInfo) -> date:
    """The last local day a report as of `instant` covers: the day of `instant`, or the day before
    when it is exactly midnight (the cut-off of a finished period is 00:00 after its last day)."""
    return calendar.local_date(instant - timedelta(microseconds=1), zone)


def previous(period: Period) -> Period:
    return period_of(period.kind, period.start - timedelta(days=1))


def following(period: Period) -> Period:
    return period_of(period.kind, period.end + timedelta(days=1))


def _invalid(value: str) -> Unprocessable:
    return Unprocessable(
        "报告期格式无效，应为 2025、2025-H1、2025-Q2、2025-06 或 2025-W23",
        code="period.invalid",
        details={"period": value},
    )


def parse(value: str) -> Period:
    """A period from its key; a clear 422 for anything else (week 53 only in years that have one)."""
    m = _KEY.match(value.strip())
    if m is None:
        raise _invalid(value)
    year = int(m["year"])
    if m["week"]:
        try:
            start = date.fromisocalendar(year, int(m["week"]), 1)
        except ValueError as exc:
            raise _invalid(value) from exc
        return Period("week", start, start + timedelta(days=6))
    if m["month"]:
        return period_of("month", date(year, int(m["month"]), 1))
    if m["quarter"]:
        return period_of("quarter", date(year, int(m["quarter"]) * 3, 1))
    if m["half"]:
        return period_of("half", date(year, int(m["half"]) * 6, 1))
    return period_of("year", date(year, 1, 1))


def for_cadence(value: str, cadence: str) -> Period:
    """Parse a report period and check it is one of the plan's cadence."""
    period = parse(value)
    kind = kind_of(cadence)
    if period.kind != kind:
        raise Unprocessable(
            f"该计划按“{KIND_NAMES[kind]}”填报，报告期“{value}”不符",
            code="report.period_cadence_mismatch",
            details={"period": value, "cadence": str(cadence)},
        )
    return period


def due_date(period: Period, *, due_day: int) -> date:
    """The nominal deadline of a report period (before moving off rest days).

    Weekly: the Friday of the week; otherwise `due_day` of the period's last month (capped at
    that month's length).
    """
    if period.kind == "week":
        return period.start + timedelta(days=_WEEKLY_DUE_WEEKDAY)
    end = period.end
    return date(end.year, end.month, min(due_day, end.day))


def spanning(kind: str, start: date, end: date) -> list[Period]:
    """Every period of `kind` that overlaps [start, end], in order."""
    out: list[Period] = []
    cursor = period_of(kind, start)
    while cursor.start <= end:
        out.append(cursor)
        cursor = following(cursor)
    return out


def due_in(kind: str, due_day: int, start: date, end: date) -> list[tuple[Period, date]]:
    """(period, nominal due date) of every period whose due date falls in [start, end]."""
    out: list[tuple[Period, date]] = []
    # Start one period early: a period's due date can fall after the next period has begun.
    cursor = previous(period_of(kind, start))
    while cursor.start <= end:
        due = due_date(cursor, due_day=due_day)
        if start <= due <= end:
            out.append((cursor, due))
        cursor = following(cursor)
    return out


def around(kind: str, day: date) -> tuple[Period, Period, Period]:
    """The period before the one containing `day`, that one, and the next: the deadlines a scan
    on `day` may be concerned with."""
    current = period_of(kind, day)
    return previous(current), current, following(current)
