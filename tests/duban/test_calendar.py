from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from duban import calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def end_of(day: date) -> datetime:
    return calendar.end_of_day(day, SHANGHAI)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (end_of(date(2025, 12, 31)), 0),
        (end_of(date(2026, 1, 3)), 0),  # 1–3 January 2026: New Year holiday
        (end_of(date(2026, 1, 4)), 1),  # Sunday 4 January is a 调休 working day
        (end_of(date(2026, 1, 5)), 2),
        (end_of(date(2026, 1, 6)), 3),
        (end_of(date(2026, 1, 12)), 7),
    ],
)
def test_working_days_overdue_for_a_year_end_deadline(now: datetime, expected: int) -> None:
    assert calendar.working_days_overdue(date(2025, 12, 31), now, SHANGHAI) == expected


def test_one_microsecond_before_the_end_of_day_does_not_count_that_day() -> None:
    just_before = datetime(2026, 1, 4, 15, 59, 59, 999999, tzinfo=UTC)
    assert calendar.working_days_overdue(date(2025, 12, 31), just_before, SHANGHAI) == 0


def test_spring_festival_2026() -> None:
    # 15–23 February 2026 are off; Saturdays 14 and 28 February are 调休 working days.
    assert calendar.is_working_day(date(2026, 2, 14))
    assert not any(calendar.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert calendar.is_working_day(date(2026, 2, 24))
    assert calendar.is_working_day(date(2026, 2, 28))
    assert calendar.effective_due_date(date(2026, 2, 17)) == date(2026, 2, 24)
    assert calendar.working_days_overdue(date(2026, 2, 13), end_of(date(2026, 2, 24)), SHANGHAI) == 2


def test_a_saturday_deadline_moves_to_monday() -> None:
    assert date(2025, 11, 29).weekday() == 5
    assert calendar.effective_due_date(date(2025, 11, 29)) == date(2025, 12, 1)
    assert calendar.due_at_for(date(2025, 11, 29), SHANGHAI) == datetime(2025, 12, 1, 16, 0, tzinfo=UTC)


def test_a_working_day_deadline_stays() -> None:
    assert calendar.effective_due_date(date(2025, 12, 31)) == date(2025, 12, 31)
    assert calendar.due_at_for(date(2025, 12, 31), SHANGHAI) == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def test_seven_working_days_before_new_year_eve() -> None:
    # 00:00 of Monday 22 December, local time.
    starts = calendar.due_soon_starts_at(date(2025, 12, 31), 7, SHANGHAI)
    assert starts == datetime(2025, 12, 21, 16, 0, tzinfo=UTC)
