"""The per-day facts the database computes from `calendar_day` (api.stats.service.calendar_facts)
are the Python ones (`_fact_rows`) day for day: working days overdue, expected percent, end of day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from api.stats import service
from duban import calendar
from tests.factories import make_plan


@pytest.mark.parametrize(
    ("zone", "today", "start"),
    [
        ("Asia/Shanghai", date(2026, 1, 5), date(2025, 12, 2)),  # after the 2026 New Year holiday
        ("Asia/Shanghai", date(2025, 10, 9), date(2026, 3, 1)),  # before the plan starts
        ("Europe/Berlin", date(2026, 3, 30), date(2025, 1, 1)),  # the day after the clocks go forward
    ],
)
def test_calendar_facts_are_the_python_facts(session: Session, zone: str, today: date, start: date) -> None:
    plan = make_plan(session, timezone=zone, period_start=start, period_end=start + timedelta(days=700))
    now = calendar.start_of_day(today, calendar.tz(zone)) + timedelta(hours=10)
    ctx = service.make_context(session, plan=plan, user=None, now=now)
    window = service.facts_window(ctx)
    assert window is not None
    facts = service.calendar_facts(ctx, window, "f")
    rows = session.execute(sa.select(facts).order_by(facts.c.d)).all()
    days = [r[0] for r in rows]
    assert days[0] == window[0] and days[-1] == window[1] and len(days) == (window[1] - window[0]).days + 1
    expected: list[tuple[Any, ...]] = service._fact_rows(ctx, days)
    got = [(r[0], r[1], r[2], r[3].astimezone(UTC)) for r in rows]
    assert got == expected


def test_end_of_day_runs_follow_daylight_saving() -> None:
    berlin = calendar.tz("Europe/Berlin")
    runs = dict(service.day_end_offsets(berlin))
    # 2026-03-28 ends at 23:00 UTC (CET); 2026-03-29 (the clocks go forward) at 22:00 UTC (CEST).
    assert calendar.end_of_day(date(2026, 3, 28), berlin) == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert runs[date(2026, 3, 29)] == 22 * 3600
    assert service.day_end_offsets(calendar.tz("Asia/Shanghai")) == ((calendar.EPOCH, 16 * 3600),)
