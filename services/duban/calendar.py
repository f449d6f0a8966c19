"""Working-day arithmetic on the Chinese statutory calendar (with 调休 working weekends).

Every date has a *working ordinal*: the number of working days from an epoch up to and
including that date. Counting working days is then one subtraction and "the n-th working day
after" one list lookup, instead of a walk over the calendar day by day.

The calendar is the `chinesecalendar` package with the office's own overrides on top (the
State Council's notice for a year the package does not cover yet, or a correction). Years
nobody covers fall back to Monday–Friday, because a deadline engine that stops on 1 January is
worse than one that ignores a holiday that has not been announced; such results carry a
warning (`uncovered_years`). A `Calendar` is immutable; the process holds one current calendar,
swapped when the database's calendar stamp changes (see duban.calendar_store), so the
module-level functions below stay pure functions of their arguments and that calendar.

The ordinals are exact over [EPOCH, SPAN_END] (the span the database's `calendar_day` table
holds too); outside it every year is uncovered and the count continues in closed form over
Monday–Friday, so no input makes a loop run long or an index fall off a table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

EPOCH = date(2000, 1, 1)
SPAN_END = date(2060, 12, 31)
_EPOCH_ORD = EPOCH.toordinal()
_SPAN_DAYS = SPAN_END.toordinal() - _EPOCH_ORD + 1

# The years the package itself lists holidays for (it raises NotImplementedError outside them).
PACKAGE_YEARS = frozenset(d.year for d in chinese_calendar.holidays)
try:
    PACKAGE_VERSION = metadata.version("chinesecalendar")
except metadata.PackageNotFoundError:  # pragma: no cover - vendored or renamed distribution
    PACKAGE_VERSION = "unknown"

Coverage = Literal["package", "office", "none"]


def _weekdays_through(day_ordinal: int) -> int:
    """Monday–Friday days in [0001-01-01, the day with this proleptic ordinal] (0001-01-01 is a Monday)."""
    weeks, rest = divmod(day_ordinal, 7)
    return weeks * 5 + min(rest, 5)


def _weekday_number(k: int) -> int:
    """The proleptic ordinal of the k-th Monday–Friday day (inverse of `_weekdays_through`)."""
    weeks, rest = divmod(k - 1, 5)
    return weeks * 7 + rest + 1


_BASE = _weekdays_through(_EPOCH_ORD - 1)  # so that ordinal(EPOCH - 1 day) == 0


@dataclass(frozen=True, slots=True)
class Override:
    """One day the office declares a rest day (`working=False`) or an adjusted working day."""

    day: date
    working: bool
    name: str = ""
    source: str = ""


def stamp_of(overrides: Iterable[Override], package_version: str = PACKAGE_VERSION) -> str:
    """A content hash: equal calendars have equal stamps, in any process and any database."""
    h = hashlib.sha256(f"chinesecalendar={package_version}".encode())
    for o in sorted(overrides, key=lambda o: o.day):
        h.update(f"|{o.day.isoformat()}:{int(o.working)}".encode())
    return h.hexdigest()[:32]


class Calendar:
    """The working days of the span, as a table of ordinals; immutable once built."""

    __slots__ = ("_end_ord", "_ordinals", "_working", "_workdays", "office_years", "overrides", "stamp")

    def __init__(self, overrides: Iterable[Override] = (), *, stamp: str | None = None) -> None:
        self.overrides: dict[date, Override] = {o.day: o for o in overrides}
        self.office_years = frozenset(d.year for d in self.overrides)
        self.stamp = stamp or stamp_of(self.overrides.values())
        working = bytearray(_SPAN_DAYS)
        ordinals = [0] * _SPAN_DAYS
        workdays: list[int] = []
        holidays, adjusted = chinese_calendar.holidays, chinese_calendar.workdays
        count = 0
        day = EPOCH
        one = timedelta(days=1)
        for i in range(_SPAN_DAYS):
            o = self.overrides.get(day)
            if o is not None:
                w = o.working
            elif day in adjusted:
                w = True
            else:
                w = day.weekday() < 5 and day not in holidays
            if w:
                count += 1
                working[i] = 1
                workdays.append(_EPOCH_ORD + i)
            ordinals[i] = count
            day += one
        self._working = bytes(working)
        self._ordinals = ordinals
        self._workdays = workdays
        self._end_ord = count

    # --- the two primitives: everything else is arithmetic on them

    def ordinal(self, day: date) -> int:
        """Working days in (EPOCH - 1 day, day]; negative before the epoch; monotonic in `day`."""
        n = day.toordinal()
        i = n - _EPOCH_ORD
        if 0 <= i < _SPAN_DAYS:
            return self._ordinals[i]
        if i < 0:
            return _weekdays_through(n) - _BASE
        return self._end_ord + _weekdays_through(n) - _weekdays_through(_EPOCH_ORD + _SPAN_DAYS - 1)

    def working_day_number(self, k: int) -> date:
        """The working day whose ordinal is `k` (the k-th working day from the epoch)."""
        if 0 < k <= self._end_ord:
            return date.fromordinal(self._workdays[k - 1])
        if k <= 0:
            return date.fromordinal(_weekday_number(k + _BASE))
        return date.fromordinal(
            _weekday_number(k - self._end_ord + _weekdays_through(_EPOCH_ORD + _SPAN_DAYS - 1))
        )

    def is_working_day(self, day: date) -> bool:
        i = day.toordinal() - _EPOCH_ORD
        if 0 <= i < _SPAN_DAYS:
            return self._working[i] == 1
        return day.weekday() < 5

    # --- derived

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, otherwise the first working day after it."""
        if self.is_working_day(day):
            return day
        return self.working_day_number(self.ordinal(day) + 1)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n > 0) or before it (n < 0); n == 0 returns `day`."""
        if n == 0:
            return day
        k = self.ordinal(day)
        if n > 0:
            return self.working_day_number(k + n)
        # Working days strictly before `day` end at ordinal k - 1 when `day` works, else at k.
        return self.working_day_number(k - self.is_working_day(day) + n + 1)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open range (start, end]."""
        if end <= start:
            return 0
        return self.ordinal(end) - self.ordinal(start)

    def coverage(self, year: int) -> Coverage:
        """Who knows this year's holidays: the office's table wins over the package."""
        if year in self.office_years:
            return "office"
        if year in PACKAGE_YEARS:
            return "package"
        return "none"

    def uncovered_years(self, start: date, end: date | None = None) -> list[int]:
        """Years in [start, end] whose holidays nobody has loaded (counted as Monday–Friday)."""
        last = (end or start).year
        return [
            y for y in range(min(start.year, last), max(start.year, last) + 1) if self.coverage(y) == "none"
        ]


# --- the process's current calendar ---------------------------------------------------------

_current = Calendar()
_package_only = _current


def current() -> Calendar:
    return _current


def use(cal: Calendar) -> None:
    """Make `cal` the process's calendar (the store calls this when the stamp changes)."""
    global _current
    _current = cal


def reset() -> None:
    """Back to the package alone (tests; a database without overrides)."""
    use(_package_only)


def package_calendar() -> Calendar:
    return _package_only


# --- module-level API over the current calendar (what the services call) ---------------------


def is_working_day(day: date) -> bool:
    return _current.is_working_day(day)


def working_ordinal(day: date) -> int:
    return _current.ordinal(day)


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, otherwise the first working day after it."""
    return _current.next_working_day(day)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (n > 0) or before it (n < 0); n == 0 returns `day`."""
    return _current.add_working_days(day, n)


def working_days_between(start: date, end: date) -> int:
    """Working days in the half-open range (start, end]."""
    return _current.working_days_between(start, end)


def coverage(year: int) -> Coverage:
    return _current.coverage(year)


def uncovered_years(start: date, end: date | None = None) -> list[int]:
    return _current.uncovered_years(start, end)


def uncovered_message(years: list[int]) -> str:
    """The warning people read wherever a figure rests on a year nobody has covered."""
    named = "、".join(f"{y}年" for y in years)
    return f"{named}的法定节假日和调休安排尚未载入，工作日暂按周一至周五计算，日期可能不准确"


def warnings_for(start: date | None, end: date | None = None) -> list[dict[str, object]]:
    """[] or one `calendar.year_uncovered` warning for the years of [start, end]."""
    if start is None:
        return []
    years = uncovered_years(start, end)
    if not years:
        return []
    return [{"code": "calendar.year_uncovered", "message": uncovered_message(years), "years": years}]


def tz(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The instant a calendar day ends: 00:00 of the next day, local time, as UTC."""
    return start_of_day(day + timedelta(days=1), zone)


def effective_due_date(day: date) -> date:
    """A deadline on a statutory holiday or rest day moves to the next working day."""
    return next_working_day(day)


def due_at_for(day: date, zone: ZoneInfo) -> datetime:
    return end_of_day(effective_due_date(day), zone)


def due_date_of(due_at: datetime, zone: ZoneInfo) -> date:
    """The local calendar day a due instant closes (due_at is the end of that day)."""
    return (due_at.astimezone(zone) - timedelta(microseconds=1)).date()


def working_days_overdue(due_date: date, now: datetime, zone: ZoneInfo) -> int:
    """Whole working days that have *ended* since the end of `due_date`.

    Due 2025-12-31: 1 from the end of 2026-01-04 (a 调休 Sunday), 3 from the end of
    2026-01-06, 7 from the end of 2026-01-12.
    """
    today = local_date(now, zone)
    # Days strictly after due_date whose end is <= now: (due_date, today - 1].
    return working_days_between(due_date, today - timedelta(days=1))


def overdue_reached_at(due_date: date, n: int, zone: ZoneInfo) -> datetime:
    """The instant an assignment due `due_date` becomes n working days overdue (n >= 1)."""
    if n <= 0:
        return end_of_day(due_date, zone)
    return end_of_day(add_working_days(due_date, n), zone)


def due_soon_starts_at(due_date: date, d: int, zone: ZoneInfo) -> datetime:
    """00:00 of the working day that lies `d` working days before `due_date`."""
    return start_of_day(add_working_days(due_date, -d), zone)


def latest_due_date_overdue_by(now: datetime, n: int, zone: ZoneInfo) -> date:
    """Largest due date D with working_days_overdue(D, now) >= n.

    Lets a scanner select every assignment at or past an escalation level with one indexed
    comparison `due_date <= D`, instead of evaluating the calendar row by row.
    """
    today = local_date(now, zone)
    if n <= 0:
        return today - timedelta(days=1)
    # overdue(D) = ord(today - 1) - ord(D) >= n  <=>  ord(D) <= ord(today - 1) - n, and the
    # largest such D is the day before the working day numbered one more than that.
    k = _current.ordinal(today - timedelta(days=1)) - n
    return _current.working_day_number(k + 1) - timedelta(days=1)


def latest_due_date_due_soon(now: datetime, d: int, zone: ZoneInfo) -> date:
    """Largest due date D whose `d`-working-days-before reminder has started by `now`."""
    today = local_date(now, zone)
    # due_soon start = add_working_days(D, -d) <= today  <=>  D < the (d+1)-th working day
    # counted from the first working day after today (or today itself, if it is one).
    anchor = today if is_working_day(today) else add_working_days(today, -1)
    return add_working_days(anchor, d + 1) - timedelta(days=1)
