"""The reminder a unit reads says the policy's number: 7, 3 and 1 working days, across New Year 2026."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from duban.models import OutboxEvent
from duban.settings import Settings
from notifier.fanout import fan_out
from notifier.render import render
from notifier.scan import scan_deadlines
from tests.notifier.conftest import make_world

SH = ZoneInfo("Asia/Shanghai")


def _titles_at(session: Session, settings: Settings, when: datetime, assignment_id: int) -> dict[str, str]:
    scan_deadlines(session, now=when, settings=settings)
    fan_out(session, now=when, settings=settings)
    session.commit()
    events = session.exec(select(OutboxEvent).where(OutboxEvent.type == "assignment.due_soon")).all()
    return {
        e.dedupe_key.split(":")[3]: render(e.type, e.payload["data"]).title
        for e in events
        if e.dedupe_key.split(":")[1] == str(assignment_id)
    }


def test_due_soon_text_agrees_with_the_policy_across_new_year(session: Session, settings: Settings) -> None:
    # Due Tuesday 2026-01-06. Jan 1–3 are the New Year holiday and Sunday Jan 4 is a working day,
    # so 1 working day before is Jan 5, 3 before is Dec 31 and 7 before is Dec 25.
    w = make_world(session, due_date=date(2026, 1, 6))
    a = w.assignment.id
    assert _titles_at(session, settings, datetime(2025, 12, 24, 23, 59, tzinfo=SH), a) == {}
    got = _titles_at(session, settings, datetime(2025, 12, 25, 0, 0, tzinfo=SH), a)
    assert got == {"7wd": f"【临期提醒】“{_task(w)}”还有7个工作日到期"}
    got = _titles_at(session, settings, datetime(2025, 12, 31, 0, 0, tzinfo=SH), a)
    assert got["3wd"].endswith("还有3个工作日到期")
    got = _titles_at(session, settings, datetime(2026, 1, 5, 0, 0, tzinfo=SH), a)
    assert got["1wd"].endswith("还有1个工作日到期")
    assert set(got) == {"7wd", "3wd", "1wd"}


def test_a_late_scan_on_a_holiday_counts_from_that_day(session: Session, settings: Settings) -> None:
    # The notifier was down from before Christmas until the holiday of Jan 2: the 3-day reminder
    # (the one reached) says 3 — Jan 4, 5 and 6 are left.
    w = make_world(session, due_date=date(2026, 1, 6))
    got = _titles_at(session, settings, datetime(2026, 1, 2, 10, 0, tzinfo=SH), w.assignment.id)
    assert list(got) == ["3wd"] and got["3wd"].endswith("还有3个工作日到期")


def test_one_day_before_the_2025_year_end_deadline(session: Session, settings: Settings) -> None:
    w = make_world(session)  # due Wednesday 2025-12-31
    got = _titles_at(session, settings, datetime(2025, 12, 30, 9, 0, tzinfo=SH), w.assignment.id)
    assert list(got) == ["1wd"] and got["1wd"].endswith("还有1个工作日到期")


def test_due_today_reads_as_today() -> None:
    assert render("assignment.due_soon", {"task": {"name": "任务"}, "working_days_left": 0}).title == (
        "【临期提醒】“任务”今天到期"
    )


def _task(w: object) -> str:
    from duban.models import Task

    assignment = w.assignment  # type: ignore[attr-defined]
    session = Session.object_session(assignment)
    assert session is not None
    task = session.get(Task, assignment.task_id)
    assert task is not None
    return task.title
