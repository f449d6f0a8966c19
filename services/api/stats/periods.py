"""Calendar periods for bulletins, assessments and progress reports (local dates of the plan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from duban.errors import Unprocessable

PERIOD_KINDS = ("week", "month", "quarter", "year")
_KIND_NAMES = {"week": "周", "month": "月", "quarter": "季度", "year": "年度"}


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        """People's name for the period: 2025年11月, 2025年第四季度, 2025年第48周."""
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == "quarter":
            return f"{self.start.year}年第{'一二三四'[(self.start.month - 1) // 3]}季度"
        if self.kind == "year":
            return f"{self.start.year}年度"
        iso = self.start.isocalendar()
        return f"{iso.year}年第{iso.week}周（{self.start:%m月%d日}—{self.end:%m月%d日}）"

    @property
    def kind_name(self) -> str:
        return _KIND_NAMES[self.kind]


def period_of(kind: str, day: date) -> Period:
    """The period of `kind` that contains `day`."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=6))
    if kind == "month":
        start = day.replace(day=1)
        return Period(kind, start, _next_month(start) - timedelta(days=1))
    if kind == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return Period(kind, start, _next_month(_next_month(_next_month(start))) - timedelta(days=1))
    raise Unprocessable(
        "周期类型只能是 week、month 或 quarter", code="period.invalid_kind", details={"period_kind": kind}
    )


def previous(period: Period) -> Period:
    return period_of(period.kind, period.start - timedelta(days=1))


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


# --- progress-report periods: the strings ProgressReport.period holds ---

_CADENCE_KIND = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}


def report_period_key(cadence: str, day: date) -> str:
    """ "2025-11" (monthly), "2025-Q4" (quarterly), "2025-W48" (weekly, ISO week)."""
    if cadence == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if cadence == "weekly":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return f"{day.year}-{day.month:02d}"


def report_due_date(cadence: str, day: date, due_day: int) -> date:
    """When the report of the period containing `day` is due (before working-day adjustment)."""
    period = period_of(_CADENCE_KIND.get(cadence, "month"), day)
    if cadence == "weekly":
        return period.start + timedelta(days=4)  # Friday of the week
    return period.end.replace(day=min(due_day, period.end.day))


def report_periods_due_in(cadence: str, due_day: int, start: date, end: date) -> list[tuple[str, date]]:
    """(period key, due date) of every report period whose due date falls in [start, end]."""
    kind = _CADENCE_KIND.get(cadence, "month")
    out: list[tuple[str, date]] = []
    # Start one period early: a period's due date can fall after the period itself has begun.
    cursor = period_of(kind, start - timedelta(days=1)).start
    while cursor <= end:
        due = report_due_date(cadence, cursor, due_day)
        if start <= due <= end:
            out.append((report_period_key(cadence, cursor), due))
        cursor = period_of(kind, cursor).end + timedelta(days=1)
    return out
