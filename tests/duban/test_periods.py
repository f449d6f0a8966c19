"""duban.periods: keys, bounds, nominal due dates and names of reporting periods."""

from __future__ import annotations

from datetime import date

import pytest

from duban import periods
from duban.errors import Unprocessable


@pytest.mark.parametrize(
    ("key", "cadence", "kind", "start", "end", "due"),
    [
        ("2025", "annual", "year", date(2025, 1, 1), date(2025, 12, 31), date(2025, 12, 25)),
        ("2025-H1", "half_yearly", "half", date(2025, 1, 1), date(2025, 6, 30), date(2025, 6, 25)),
        ("2025-H2", "half", "half", date(2025, 7, 1), date(2025, 12, 31), date(2025, 12, 25)),
        ("2025-Q2", "quarterly", "quarter", date(2025, 4, 1), date(2025, 6, 30), date(2025, 6, 25)),
        ("2024-02", "monthly", "month", date(2024, 2, 1), date(2024, 2, 29), date(2024, 2, 25)),
        ("2025-W23", "weekly", "week", date(2025, 6, 2), date(2025, 6, 8), date(2025, 6, 6)),
        ("2020-W53", "weekly", "week", date(2020, 12, 28), date(2021, 1, 3), date(2021, 1, 1)),
    ],
)
def test_period_parsing(key: str, cadence: str, kind: str, start: date, end: date, due: date) -> None:
    period = periods.parse(key)
    assert (period.kind, period.start, period.end, period.key) == (kind, start, end, key)
    assert periods.kind_of(cadence) == kind
    assert periods.due_date(period, due_day=25) == due
    # Every day of the period maps back to it, by kind and by cadence.
    assert periods.period_of(cadence, start) == period == periods.period_of(kind, end)
    assert periods.for_cadence(key, cadence) == period


@pytest.mark.parametrize(
    "key", ["2025-W53", "2025-Q0", "2025-Q5", "2025-H3", "2025-6", "25-06", "2025-W00", ""]
)
def test_invalid_periods(key: str) -> None:
    with pytest.raises(Unprocessable) as exc:
        periods.parse(key)
    assert exc.value.code == "period.invalid"


def test_cadence_mismatch_and_unknown_kind() -> None:
    with pytest.raises(Unprocessable) as exc:
        periods.for_cadence("2025-Q4", "monthly")
    assert exc.value.code == "report.period_cadence_mismatch" and "月" in exc.value.message
    with pytest.raises(Unprocessable) as exc:
        periods.period_of("decade", date(2025, 1, 1))
    assert exc.value.code == "period.invalid_kind"


def test_labels() -> None:
    day = date(2025, 11, 26)
    assert periods.period_of("month", day).label == "2025年11月"
    assert periods.period_of("quarter", day).label == "2025年第四季度"
    assert periods.period_of("half", day).label == "2025年下半年"
    assert periods.period_of("year", day).label == "2025年度"
    assert periods.period_of("week", day).label == "2025年第48周（11月24日—11月30日）"
    assert periods.period_of("quarter", day).kind_name == "季度"


def test_previous_following_and_around() -> None:
    q4 = periods.parse("2025-Q4")
    assert periods.previous(q4).key == "2025-Q3" and periods.following(q4).key == "2026-Q1"
    assert [p.key for p in periods.around("weekly", date(2026, 1, 1))] == ["2025-W52", "2026-W01", "2026-W02"]
    assert [p.key for p in periods.around("half", date(2025, 3, 1))] == ["2024-H2", "2025-H1", "2025-H2"]


def test_spanning_covers_partial_periods() -> None:
    keys = [p.key for p in periods.spanning("quarterly", date(2024, 2, 15), date(2024, 11, 1))]
    assert keys == ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
    assert [p.key for p in periods.spanning("annual", date(2024, 1, 1), date(2025, 12, 31))] == [
        "2024",
        "2025",
    ]


def test_due_in_includes_a_period_due_after_it_ended() -> None:
    # November's report is due 25 November, so it is due in the month; October's was due in October.
    due = periods.due_in("monthly", 25, date(2025, 11, 1), date(2025, 11, 30))
    assert [(p.key, d) for p, d in due] == [("2025-11", date(2025, 11, 25))]
    # A week's report is due on its Friday; a range starting on a Saturday misses that week.
    weeks = periods.due_in("weekly", 25, date(2025, 11, 22), date(2025, 12, 5))
    assert [p.key for p, _ in weeks] == ["2025-W48", "2025-W49"]


def test_a_period_is_reported_as_of_its_end_in_the_plans_zone() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    shanghai, utc = ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")
    year = periods.parse("2025")
    assert periods.bounds(year, shanghai) == (
        datetime(2024, 12, 31, 16, tzinfo=UTC),
        datetime(2025, 12, 31, 16, tzinfo=UTC),
    )
    assert periods.bounds(year, utc)[1] == datetime(2026, 1, 1, tzinfo=UTC)
    # Over: its end. Still running: now.
    december_2026 = datetime(2026, 12, 10, 2, tzinfo=UTC)
    assert periods.cutoff(year, shanghai, december_2026) == datetime(2025, 12, 31, 16, tzinfo=UTC)
    mid_year = datetime(2025, 6, 1, 2, tzinfo=UTC)
    assert periods.cutoff(year, shanghai, mid_year) == mid_year
    # The last day covered: the day before a midnight cut-off, the day of any other instant.
    assert periods.through(datetime(2025, 12, 31, 16, tzinfo=UTC), shanghai) == date(2025, 12, 31)
    assert periods.through(datetime(2025, 12, 31, 17, tzinfo=UTC), shanghai) == date(2026, 1, 1)
    assert periods.through(mid_year, shanghai) == date(2025, 6, 1)
