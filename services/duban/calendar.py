"""Working-day arithmetic on the Chinese statutory calendar (with 调休 working weekends).

Pure functions over dates; instants are converted with an explicit time zone. The statutory
calendar comes from `chinesecalendar`; years it does not cover yet fall back to Monday–Friday,
because a deadline engine that stops on 1 January is worse than one that ignores a holiday
that has not been announced.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

# A due date is never further than this from its next working day (the longest Chinese
# holiday block is 8–9 days); the bound keeps every loop here finite.
_MAX_SCAN_DAYS = 40


@lru_cache(maxsize=8192)
def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, otherwise the first working day after it."""
    for _ in range(_MAX_SCAN_DAYS):
        if is_working_day(day):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days of {day}")


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (n > 0) or before it (n < 0); n == 0 returns `day`."""
    step = timedelta(days=1 if n > 0 else -1)
    remaining = abs(n)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days in the half-open range (start, end]."""
    if end <= start:
        return 0
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


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
    # The n-th working day counted back from yesterday is the last one that must have ended.
    last_ended = today - timedelta(days=1)
    day = last_ended if is_working_day(last_ended) else add_working_days(last_ended, -1)
    nth = add_working_days(day, -(n - 1))
    return nth - timedelta(days=1)


def latest_due_date_due_soon(now: datetime, d: int, zone: ZoneInfo) -> date:
    """Largest due date D whose `d`-working-days-before reminder has started by `now`."""
    today = local_date(now, zone)
    # due_soon start = add_working_days(D, -d) <= today  <=>  D < the (d+1)-th working day
    # counted from the first working day after today (or today itself, if it is one).
    anchor = today if is_working_day(today) else add_working_days(today, -1)
    return add_working_days(anchor, d + 1) - timedelta(days=1)
