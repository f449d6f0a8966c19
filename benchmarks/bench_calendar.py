"""Working days: the day-by-day walk (before) against the working ordinals (after), per call.

    .venv/bin/python benchmarks/bench_calendar.py [--number 2000]

"Before" is the previous duban.calendar verbatim (an lru_cached `chinese_calendar.is_workday`
per day and a Python loop over the days), warmed so its cache is hot — the best case it had in
a long-running worker. "After" is the module as it is now. Also: a page of 100 assignment rows
through `decorate` (the list route's per-row work), building a calendar (once per change), and
the stamp check a transaction pays at most every `calendar_check_seconds` (SQLite file).
"""

from __future__ import annotations

import argparse
import tempfile
import timeit
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlmodel import Session

from duban import calendar, calendar_store, migrate
from duban.db import make_engine

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 2 March 2026, 09:00 local


# --- before: the previous implementation ----------------------------------------------------


@lru_cache(maxsize=8192)
def old_is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def old_add_working_days(day: date, n: int) -> date:
    step = timedelta(days=1 if n > 0 else -1)
    remaining = abs(n)
    while remaining:
        day += step
        if old_is_working_day(day):
            remaining -= 1
    return day


def old_between(start: date, end: date) -> int:
    if end <= start:
        return 0
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if old_is_working_day(day):
            count += 1
    return count


def old_overdue(due: date, now: datetime, zone: ZoneInfo) -> int:
    return old_between(due, now.astimezone(zone).date() - timedelta(days=1))


def old_cutoff(now: datetime, n: int, zone: ZoneInfo) -> date:
    today = now.astimezone(zone).date()
    last_ended = today - timedelta(days=1)
    day = last_ended if old_is_working_day(last_ended) else old_add_working_days(last_ended, -1)
    return old_add_working_days(day, -(n - 1)) - timedelta(days=1)


def old_decorate(rows: list[dict[str, Any]], now: datetime) -> None:
    memo: dict[tuple[date, str], int] = {}
    for row in rows:
        key = (row["due_date"], row["timezone"])
        if key not in memo:
            memo[key] = old_overdue(key[0], now, ZoneInfo(key[1]))
        row["working_days_overdue"] = memo[key]


# --- after: what the list route calls now -----------------------------------------------------


def new_decorate(rows: list[dict[str, Any]], now: datetime) -> None:
    from api.assignment.service import decorate

    decorate(rows, now=now)


def page(days_back: int) -> list[dict[str, Any]]:
    """100 overdue open rows with distinct due dates spread over the last `days_back` days."""
    today = NOW.astimezone(ZONE).date()
    out = []
    for i in range(100):
        due = today - timedelta(days=1 + (i * days_back) // 100)
        out.append(
            {
                "state": "accepted",
                "due_date": due,
                "due_at": calendar.end_of_day(due, ZONE),
                "timezone": "Asia/Shanghai",
            }
        )
    return out


def per_call_us(fn: Callable[[], Any], number: int) -> float:
    fn()  # warm caches (the old walk's lru_cache, imports)
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--number", type=int, default=2000)
    args = ap.parse_args()
    n = args.number
    today = NOW.astimezone(ZONE).date()
    rows: list[tuple[str, float, float]] = []

    for gap in (5, 60, 400):
        due = today - timedelta(days=gap)
        old = per_call_us(lambda due=due: old_overdue(due, NOW, ZONE), n)
        new = per_call_us(lambda due=due: calendar.working_days_overdue(due, NOW, ZONE), n)
        assert old_overdue(due, NOW, ZONE) == calendar.working_days_overdue(due, NOW, ZONE)
        rows.append((f"working_days_overdue, due {gap} days ago", old, new))
    d = date(2025, 12, 31)
    rows.append(
        (
            "add_working_days(d, -7)",
            per_call_us(lambda: old_add_working_days(d, -7), n),
            per_call_us(lambda: calendar.add_working_days(d, -7), n),
        )
    )
    rows.append(
        (
            "scanner cutoff, 7 working days",
            per_call_us(lambda: old_cutoff(NOW, 7, ZONE), n),
            per_call_us(lambda: calendar.latest_due_date_overdue_by(NOW, 7, ZONE), n),
        )
    )
    for span in (30, 365):
        p = page(span)
        rows.append(
            (
                f"decorate 100 rows, due dates over {span} days",
                per_call_us(lambda p=p: old_decorate([dict(r) for r in p], NOW), max(n // 20, 20)),
                per_call_us(lambda p=p: new_decorate([dict(r) for r in p], NOW), max(n // 20, 20)),
            )
        )

    print(f"{'call':48} {'before µs':>12} {'after µs':>12} {'speed-up':>9}")
    for name, old, new in rows:
        print(f"{name:48} {old:12.2f} {new:12.2f} {old / new:8.1f}×")

    build = min(timeit.repeat(calendar.Calendar, number=1, repeat=5)) * 1000
    print(f"\nbuilding a calendar (once per process and per change): {build:.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            conn = session.connection()
            check = per_call_us(lambda: calendar_store.refresh(conn), n)
            cutoff = per_call_us(lambda: calendar_store.overdue_cutoff_in_sql(conn, today=today, n=7), n)
        engine.dispose()
    print(f"stamp check (one primary-key read, SQLite): {check:.1f} µs")
    print(f"scanner cutoff computed in SQL from calendar_day (SQLite): {cutoff:.1f} µs")


if __name__ == "__main__":
    main()
