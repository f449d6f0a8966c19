"""The ordinal calendar equals the day-by-day walk it replaced, for any dates and overrides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duban import calendar
from duban.calendar import Calendar, Override

SHANGHAI = ZoneInfo("Asia/Shanghai")

# --- the previous implementation, kept verbatim as the oracle (a walk over a predicate) --------


@cache
def package_is_working(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def with_overrides(overrides: list[Override]) -> Callable[[date], bool]:
    table = {o.day: o.working for o in overrides}
    return lambda day: table[day] if day in table else package_is_working(day)


def walk_next_working_day(is_working: Callable[[date], bool], day: date) -> date:
    for _ in range(40):
        if is_working(day):
            return day
        day += timedelta(days=1)
    raise ValueError(day)


def walk_add_working_days(is_working: Callable[[date], bool], day: date, n: int) -> date:
    step = timedelta(days=1 if n > 0 else -1)
    remaining = abs(n)
    while remaining:
        day += step
        if is_working(day):
            remaining -= 1
    return day


def walk_between(is_working: Callable[[date], bool], start: date, end: date) -> int:
    if end <= start:
        return 0
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working(day):
            count += 1
    return count


def walk_latest_due_date_overdue_by(is_working: Callable[[date], bool], today: date, n: int) -> date:
    if n <= 0:
        return today - timedelta(days=1)
    last_ended = today - timedelta(days=1)
    day = last_ended if is_working(last_ended) else walk_add_working_days(is_working, last_ended, -1)
    return walk_add_working_days(is_working, day, -(n - 1)) - timedelta(days=1)


# Across the package's years, the uncovered years after it, and both edges of the exact span.
dates = st.dates(min_value=date(1995, 1, 1), max_value=date(2066, 12, 31))
near_span_edges = st.one_of(
    st.dates(min_value=date(1999, 11, 1), max_value=date(2000, 2, 1)),
    st.dates(min_value=date(2060, 11, 1), max_value=date(2061, 2, 1)),
    st.dates(min_value=date(2026, 9, 1), max_value=date(2027, 3, 1)),
)
any_date = st.one_of(dates, near_span_edges)
offsets = st.integers(min_value=-60, max_value=60)
overrides_2027 = st.lists(
    st.builds(
        Override,
        day=st.dates(min_value=date(2026, 12, 1), max_value=date(2027, 12, 31)),
        working=st.booleans(),
    ),
    max_size=30,
    unique_by=lambda o: o.day,
)

PACKAGE = Calendar()


@settings(max_examples=400, deadline=None)
@given(a=any_date, b=any_date)
def test_between_equals_the_walk(a: date, b: date) -> None:
    if abs((b - a).days) > 1500:  # keep the oracle's walk short; the spans still cross years
        b = a + timedelta(days=(b - a).days % 1500)
    assert PACKAGE.working_days_between(a, b) == walk_between(package_is_working, a, b)


@settings(max_examples=400, deadline=None)
@given(day=any_date, n=offsets)
def test_add_and_next_equal_the_walk(day: date, n: int) -> None:
    assert PACKAGE.add_working_days(day, n) == walk_add_working_days(package_is_working, day, n)
    assert PACKAGE.next_working_day(day) == walk_next_working_day(package_is_working, day)
    assert PACKAGE.is_working_day(day) == package_is_working(day)


@settings(max_examples=300, deadline=None)
@given(today=any_date, n=st.integers(min_value=0, max_value=40))
def test_scanner_cutoff_equals_the_walk(today: date, n: int) -> None:
    calendar.use(PACKAGE)
    now = calendar.start_of_day(today, SHANGHAI) + timedelta(hours=9)
    assert calendar.latest_due_date_overdue_by(now, n, SHANGHAI) == walk_latest_due_date_overdue_by(
        package_is_working, today, n
    )


@settings(max_examples=150, deadline=None)
@given(overrides=overrides_2027, a=st.dates(date(2026, 10, 1), date(2028, 2, 1)), n=offsets, span=offsets)
def test_office_overrides_equal_the_walk_over_them(
    overrides: list[Override], a: date, n: int, span: int
) -> None:
    cal = Calendar(overrides)
    oracle = with_overrides(overrides)
    b = a + timedelta(days=span)
    assert cal.working_days_between(a, b) == walk_between(oracle, a, b)
    assert cal.add_working_days(a, n) == walk_add_working_days(oracle, a, n)
    assert cal.is_working_day(a) == oracle(a)
    try:
        expected = walk_next_working_day(oracle, a)
    except ValueError:  # the walk gave up after 40 rest days in a row; the ordinals do not
        expected = walk_add_working_days(oracle, a, 1)
    assert cal.next_working_day(a) == expected


@settings(max_examples=200, deadline=None)
@given(day=any_date)
def test_the_ordinal_is_the_working_day_number_inverse(day: date) -> None:
    k = PACKAGE.ordinal(day)
    if PACKAGE.is_working_day(day):
        assert PACKAGE.working_day_number(k) == day
    else:
        assert PACKAGE.working_day_number(k) < day < PACKAGE.working_day_number(k + 1)


def test_the_ordinal_starts_at_zero_the_day_before_the_epoch() -> None:
    assert PACKAGE.ordinal(calendar.EPOCH - timedelta(days=1)) == 0
    assert PACKAGE.ordinal(calendar.EPOCH) == 0  # 2000-01-01 is a Saturday
    assert PACKAGE.ordinal(date(2000, 1, 3)) == 1


def test_coverage_per_year() -> None:
    assert PACKAGE.coverage(2026) == "package"
    assert PACKAGE.coverage(2027) == "none"
    office = Calendar([Override(date(2027, 1, 1), False, "元旦")])
    assert office.coverage(2027) == "office"
    assert office.uncovered_years(date(2026, 12, 1), date(2028, 1, 1)) == [2028]
    assert PACKAGE.uncovered_years(date(2025, 12, 31)) == []


def test_stamp_depends_on_content_only() -> None:
    a = Calendar([Override(date(2027, 1, 1), False), Override(date(2027, 1, 2), False)])
    b = Calendar([Override(date(2027, 1, 2), False, "x"), Override(date(2027, 1, 1), False, "y")])
    assert a.stamp == b.stamp != PACKAGE.stamp
    assert Calendar().stamp == PACKAGE.stamp


@pytest.fixture(autouse=True)
def _package_calendar() -> None:
    calendar.reset()


def test_new_year_2026_through_the_module_functions() -> None:
    due = date(2025, 12, 31)
    end = calendar.end_of_day
    assert calendar.working_days_overdue(due, end(date(2026, 1, 4), SHANGHAI), SHANGHAI) == 1
    assert calendar.working_days_overdue(due, end(date(2026, 1, 6), SHANGHAI), SHANGHAI) == 3
    assert calendar.working_days_overdue(due, end(date(2026, 1, 12), SHANGHAI), SHANGHAI) == 7
    assert calendar.due_soon_starts_at(due, 7, SHANGHAI) == datetime(2025, 12, 21, 16, 0, tzinfo=UTC)
    assert calendar.latest_due_date_overdue_by(end(date(2026, 1, 4), SHANGHAI), 1, SHANGHAI) == date(
        2026, 1, 3
    )  # a holiday: due then, also 1 overdue
