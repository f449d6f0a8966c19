"""Incremental reminder passes: a pass looks only at assignments that changed since the previous one
or that a cutoff passed since; it sends everything a full scan would, each once."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from duban.db import make_engine
from duban.models import (
    Assignment,
    AssignmentState,
    NoticeChange,
    OutboxEvent,
    ProgressReport,
    ProgressReportState,
    ScanRun,
)
from duban.settings import Settings
from notifier.scan import scan_deadlines
from tests.factories import make_assignment, make_plan, make_report, make_task, make_unit
from tests.notifier.conftest import make_world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def _full_scan_adds(session: Session, now: datetime, settings: Settings) -> int:
    """What a full scan at `now` would still create (rolled back): 0 when nothing was missed."""
    nested = session.begin_nested()
    try:
        return sum(scan_deadlines(session, now=now, settings=settings, record=False).values())
    finally:
        nested.rollback()


def _changes(session: Session) -> list[tuple[int, int | None]]:
    """The notice_change rows: (assignment id, claim)."""
    rows = session.exec(select(NoticeChange.assignment_id, NoticeChange.claim).order_by(NoticeChange.id))
    return [(a, c) for a, c in rows.all()]


def test_every_notice_of_a_full_scan_is_sent_once_across_changes(
    session: Session, settings: Settings
) -> None:
    w = make_world(session)
    plan = make_plan(session, period_start=date(2025, 1, 1), period_end=date(2026, 12, 31))
    units = [w.unit, make_unit(session), make_unit(session)]
    rows = [
        make_assignment(
            session,
            task=make_task(session, plan=plan),
            unit=units[i % 3],
            due_date=date(2025, 12, 10) + timedelta(days=3 * i),
            overdue_from=date(2026, 1, 5) if i % 7 == 3 else None,
        )
        for i in range(24)
    ]
    session.commit()
    # Every row is recorded by the trigger on insert, in the writer's transaction.
    ids = list(session.exec(select(Assignment.id).order_by(Assignment.id)))
    assert sorted(a for a, _ in _changes(session)) == ids
    assert {c for _, c in _changes(session)} == {None}
    now = local(2025, 12, 1, 9)
    modes = []
    for step in range(45):
        created = scan_deadlines(session, now=now, settings=settings)
        session.commit()
        modes.append(session.exec(select(ScanRun.mode).order_by(sa.desc(ScanRun.id))).first())
        assert _full_scan_adds(session, now, settings) == 0, (step, now, created)
        assert _changes(session) == []  # claimed and cleared
        # Changes between passes, through the ORM as any writer does; the trigger marks them.
        if step == 5:
            rows[2].due_date = date(2026, 2, 27)  # an extension
        if step == 9:
            rows[4].state = AssignmentState.completed
        if step == 12:
            rows[4].state = AssignmentState.accepted  # reopened
        if step == 15:
            make_report(session, assignment=rows[6], period="2026-01")
        if step == 20:
            report = session.exec(
                select(ProgressReport).where(ProgressReport.assignment_id == rows[6].id)
            ).one()
            report.state = ProgressReportState.rejected
        session.add_all(rows)
        session.commit()
        now += timedelta(days=1, hours=3 if step % 2 else -2)
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}
    keys = session.exec(select(OutboxEvent.dedupe_key)).all()
    assert len(keys) == len(set(keys)) > 50
    assert any(k.startswith("report.missing") for k in keys)


def test_a_changed_policy_or_clock_going_back_scans_everything(session: Session, settings: Settings) -> None:
    from duban.models import NotificationPolicy

    w = make_world(session)
    scan_deadlines(session, now=local(2025, 12, 22, 9), settings=settings)
    scan_deadlines(session, now=local(2025, 12, 22, 10), settings=settings)
    scan_deadlines(session, now=local(2025, 12, 22, 8), settings=settings)  # an earlier --as-of
    session.add(
        NotificationPolicy(plan_id=w.assignment.plan_id, config={"due_soon_working_days": [10, 5, 2]})
    )
    session.commit()
    created = scan_deadlines(session, now=local(2025, 12, 22, 11), settings=settings)
    session.commit()
    modes = session.exec(select(ScanRun.mode).order_by(ScanRun.id)).all()
    assert modes == ["full", "incremental", "full", "full"]
    assert created.get("assignment.due_soon", 0) >= 1  # the new stage (10 working days) at once
    assert _full_scan_adds(session, local(2025, 12, 22, 11), settings) == 0


def test_a_pass_reads_only_what_is_newly_due_or_changed(session: Session, settings: Settings) -> None:
    """EXPLAIN ANALYZE of every notice statement as the pass runs it (PostgreSQL, sequential scans
    off so the indexes' plans are shown), over 300 open rows of which many are overdue, due soon
    and escalated: with nothing changed and no cutoff passed, the pass runs no notice statement;
    with one row changed, each reads at most that row; a working day later, each reads at most
    the rows whose due dates a cutoff passed (a calendar day's here), not the open ones. (The
    daily digest counts every open row, once a working day; a report period coming into force
    is new for every assignment it applies to.)"""
    if session.get_bind().dialect.name != "postgresql":
        return
    w = make_world(session)
    plan = make_plan(session)
    rows = [
        make_assignment(
            session,
            task=make_task(session, plan=plan),
            unit=w.unit,
            due_date=date(2025, 10, 1) + timedelta(days=i),
        )
        for i in range(300)
    ]
    session.commit()
    scan_deadlines(session, now=local(2026, 1, 20, 9), settings=settings)
    session.commit()
    # Current statistics, as autovacuum keeps them: the planner then knows how few rows the
    # index ranges hold.
    session.execute(sa.text("ANALYZE assignment"))
    session.commit()
    session.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")
    engine = session.get_bind()
    plans: list[tuple[str, int]] = []

    def explain(*args: Any) -> tuple[str, Any]:
        _conn, _cursor, statement, params, ctx, _many = args
        if statement.startswith("INSERT INTO outbox_event") and "digest.daily" not in str(params):
            statement = "EXPLAIN (ANALYZE, FORMAT JSON) " + statement
            ctx.explained = True
        return statement, params

    def read(*args: Any) -> None:
        _conn, cursor, statement, _params, ctx, _many = args
        if getattr(ctx, "explained", False):
            plan = cursor.fetchone()[0]
            plans.append((statement, _rows_read(json.loads(plan) if isinstance(plan, str) else plan)))

    def scan(now: datetime) -> list[int]:
        plans.clear()
        sa.event.listen(engine, "before_cursor_execute", explain, retval=True)
        sa.event.listen(engine, "after_cursor_execute", read)
        try:
            scan_deadlines(session, now=now, settings=settings)
        finally:
            sa.event.remove(engine, "before_cursor_execute", explain)
            sa.event.remove(engine, "after_cursor_execute", read)
        return [n for _, n in plans]

    assert scan(local(2026, 1, 20, 16)) == []  # nothing changed, nothing crossed
    rows[150].due_date = date(2026, 1, 21)
    session.add(rows[150])
    session.flush()
    changed = scan(local(2026, 1, 20, 17))
    assert changed and max(changed) <= 1, changed
    scan(local(2026, 1, 21, 9))  # the month's report reminders come into force: every row
    next_day = scan(local(2026, 1, 22, 9))
    assert len(next_day) >= 5 and max(next_day) <= 3, next_day  # of 300 open
    session.rollback()


def _rows_read(plan: object) -> int:
    """Rows of `assignment` a plan's scan nodes produced or filtered out."""
    total = 0
    if isinstance(plan, list):
        return sum(_rows_read(p) for p in plan)
    if isinstance(plan, dict):
        node = plan.get("Plan", plan)
        if node.get("Relation Name") == "assignment":
            total += int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))
            total += int(node.get("Rows Removed by Index Recheck", 0))
        for child in node.get("Plans", []):
            total += _rows_read(child)
    return total


def test_the_triggers_record_what_reminders_depend_on_and_nothing_else(
    session: Session, settings: Settings
) -> None:
    w = make_world(session)
    scan_deadlines(session, now=local(2025, 12, 1, 9), settings=settings)  # a full pass drops them
    session.commit()
    assert _changes(session) == []
    a = w.assignment
    a.percent_done = 40  # not a reminder input
    a.last_reason = "进展顺利"
    session.add(a)
    session.commit()
    assert _changes(session) == []
    a.due_date = date(2026, 1, 30)  # an extension
    session.add(a)
    session.commit()
    # A watched column written with its own value: nothing changed.
    session.execute(
        sa.text("UPDATE assignment SET state = state, due_date = due_date WHERE id = :id"), {"id": a.id}
    )
    session.commit()
    assert _changes(session) == [(a.id, None)]
    report = make_report(session, assignment=a, period="2026-01", state=ProgressReportState.draft)
    session.commit()
    report.state = ProgressReportState.submitted
    session.add(report)
    session.commit()
    session.delete(report)
    session.commit()
    assert _changes(session) == [(a.id, None)] * 4
    # An incremental pass claims them and deletes them in its transaction.
    scan_deadlines(session, now=local(2025, 12, 1, 10), settings=settings)
    session.commit()
    assert _changes(session) == []
    assert session.exec(select(ScanRun.mode).order_by(sa.desc(ScanRun.id))).first() == "incremental"


@pytest.mark.committed
def test_a_write_during_a_pass_neither_waits_nor_is_lost(committed_url: str, settings: Settings) -> None:
    """A pass that has claimed the changes holds no lock a writer needs (the writer runs with a
    lock_timeout while the pass is open), and the write it did not see is the next pass's.
    PostgreSQL only: on SQLite the one writer lock serializes them anyway."""
    engine = make_engine(committed_url)
    try:
        if engine.dialect.name != "postgresql":
            return
        with Session(engine, expire_on_commit=False) as s:
            w = make_world(s)
            scan_deadlines(s, now=local(2025, 12, 1, 9), settings=settings)
            s.commit()
            w.assignment.due_date = date(2025, 12, 5)
            s.add(w.assignment)
            s.commit()
        with Session(engine) as scanning:
            scan_deadlines(scanning, now=local(2025, 12, 1, 10), settings=settings)  # still open
            with Session(engine) as writer:
                writer.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                a = writer.get(Assignment, w.assignment.id)
                assert a is not None
                a.due_date = date(2025, 12, 8)
                writer.add(a)
                writer.commit()
            scanning.commit()
        with Session(engine) as s:
            assert _changes(s) == [(w.assignment.id, None)]  # the write during the pass
            created = scan_deadlines(s, now=local(2025, 12, 1, 11), settings=settings)
            s.commit()
            assert created.get("assignment.due_soon", 0) >= 1  # due 12-08: new keys
            assert _changes(s) == []
    finally:
        engine.dispose()


@pytest.mark.committed
def test_a_replica_skips_its_pass_while_another_is_under_way(committed_url: str, settings: Settings) -> None:
    """PostgreSQL: the second replica's pass finds the first's lock, creates nothing, records no
    run; once the first has committed, the next pass is an incremental one after it."""
    engine = make_engine(committed_url)
    try:
        if engine.dialect.name != "postgresql":
            return
        with Session(engine) as s:
            make_world(s, due_date=date(2025, 12, 3))
        with Session(engine) as first:
            assert sum(scan_deadlines(first, now=local(2025, 12, 1, 9), settings=settings).values()) > 0
            with Session(engine) as second:
                # Without the lock it would wait on the first's keys: fail instead of hanging.
                second.execute(sa.text("SET LOCAL lock_timeout = '3s'"))
                assert scan_deadlines(second, now=local(2025, 12, 1, 9), settings=settings) == {}
                second.commit()
            first.commit()
        with Session(engine) as s:
            assert sum(scan_deadlines(s, now=local(2025, 12, 1, 10), settings=settings).values()) == 0
            s.commit()
            assert s.exec(select(ScanRun.mode).order_by(ScanRun.id)).all() == ["full", "incremental"]
    finally:
        engine.dispose()
