"""The calendar's database side: the stamp check at transaction start and the re-sync on upgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlmodel import Session

from duban import calendar, calendar_store, migrate
from duban.db import make_engine

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_another_process_change_is_seen_at_the_next_transaction(committed_url: str) -> None:
    engine = make_engine(committed_url)
    try:
        with Session(engine) as session:
            session.execute(sa.text("SELECT 1"))
            assert calendar.current() is calendar.package_calendar()
        # "Another process" loads a rest day for 2027: rows, table and stamp in one transaction.
        with engine.begin() as conn:
            conn.execute(
                sa.insert(calendar_store.override_t).values(
                    year=2027, day=date(2027, 1, 1), kind="rest", name="元旦", source="测试", created_at=NOW
                )
            )
            calendar_store.sync(conn, now=NOW, previous=calendar.package_calendar())
        calendar.reset()  # this process has not seen it
        with Session(engine) as session:
            session.execute(sa.text("SELECT 1"))  # any transaction start checks the stamp
            assert calendar.coverage(2027) == "office"
            assert calendar.effective_due_date(date(2027, 1, 1)) == date(2027, 1, 4)
            row = session.execute(
                sa.select(calendar_store.day_t).where(calendar_store.day_t.c.day == date(2027, 1, 4))
            ).one()
            assert row.working_ordinal == calendar.working_ordinal(date(2027, 1, 4))
            assert not session.execute(
                sa.select(calendar_store.day_t.c.is_working_day).where(
                    calendar_store.day_t.c.day == date(2027, 1, 1)
                )
            ).scalar()
    finally:
        engine.dispose()


def test_checks_are_throttled(committed_url: str) -> None:
    engine = make_engine(committed_url)
    try:
        calendar_store.install(60)
        calendar_store.invalidate()
        with Session(engine) as session:
            session.execute(sa.text("SELECT 1"))  # checks now, then not for 60 s
        with engine.begin() as conn:
            conn.execute(
                sa.insert(calendar_store.override_t).values(
                    year=2027, day=date(2027, 1, 1), kind="rest", name="", source="", created_at=NOW
                )
            )
            calendar_store.sync(conn, now=NOW, previous=calendar.package_calendar())
        calendar.reset()
        with Session(engine) as session:
            session.execute(sa.text("SELECT 1"))
            assert calendar.coverage(2027) == "none"  # not yet: within the interval
        calendar_store.invalidate()
        with Session(engine) as session:
            session.execute(sa.text("SELECT 1"))
            assert calendar.coverage(2027) == "office"
    finally:
        calendar_store.install(0)
        engine.dispose()


def test_upgrade_resyncs_a_table_built_by_another_package_version(committed_url: str) -> None:
    engine = make_engine(committed_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(calendar_store.state_t).values(stamp="built-by-an-older-package"))
            conn.execute(
                sa.update(calendar_store.day_t)
                .where(calendar_store.day_t.c.day == date(2026, 1, 1))
                .values(is_working_day=True)
            )
        migrate.upgrade(committed_url)
        with engine.connect() as conn:
            assert calendar_store.db_stamp(conn) == calendar.package_calendar().stamp
            assert not conn.execute(
                sa.select(calendar_store.day_t.c.is_working_day).where(
                    calendar_store.day_t.c.day == date(2026, 1, 1)
                )
            ).scalar()
    finally:
        engine.dispose()
