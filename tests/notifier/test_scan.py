from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from duban.clock import FixedClock
from duban.models import (
    AssignmentState,
    NotificationPolicy,
    OutboxEvent,
    Role,
)
from duban.settings import Settings
from notifier.fanout import fan_out
from notifier.scan import report_deadlines, scan_deadlines
from tests.factories import make_assignment, make_plan, make_report, make_task, make_unit, make_user
from tests.notifier.conftest import make_world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def keys(session: Session) -> list[str]:
    return sorted(session.exec(select(OutboxEvent.dedupe_key)).all())


def deadline_keys(session: Session, assignment_id: int) -> list[str]:
    return sorted(k for k in keys(session) if k.startswith("assignment.") and f":{assignment_id}:" in k)


def test_scan_twice_creates_the_same_rows(session: Session, settings: Settings) -> None:
    w = make_world(session)
    make_assignment(session, unit=w.unit, due_date=date(2026, 1, 9))
    now = local(2026, 1, 20, 9)
    first = scan_deadlines(session, now=now, settings=settings)
    session.commit()
    before = keys(session)
    second = scan_deadlines(session, now=now, settings=settings)
    session.commit()
    assert sum(first.values()) == len(before) > 0
    assert sum(second.values()) == 0
    assert keys(session) == before


def test_working_days_across_new_year(session: Session, settings: Settings) -> None:
    """Due 2025-12-31: Jan 1–3 2026 are holidays, Sunday Jan 4 is a working day (调休)."""
    w = make_world(session)
    a = w.assignment.id
    clock = FixedClock(local(2025, 12, 21, 23, 59))

    def scan() -> list[str]:
        scan_deadlines(session, now=clock.now(), settings=settings)
        session.commit()
        return deadline_keys(session, a)

    assert scan() == []
    clock.set(local(2025, 12, 22, 0, 0))  # 7 working days before Wednesday 2025-12-31
    assert scan() == [f"assignment.due_soon:{a}:2025-12-31:7wd:unit"]
    clock.set(local(2025, 12, 31, 23, 59, 59))
    assert not any("overdue" in k for k in scan())
    clock.set(local(2026, 1, 1, 0, 0))  # the end of the due date
    assert f"assignment.overdue:{a}:2025-12-31:due:unit" in scan()
    clock.set(local(2026, 1, 6, 23, 59, 59))
    assert not any("escalated" in k for k in scan())
    clock.set(local(2026, 1, 7, 0, 0))  # end of Jan 6: 3 working days (Jan 4, 5, 6)
    assert [k for k in scan() if "escalated" in k] == [f"assignment.escalated:{a}:2025-12-31:L1:unit_head"]
    clock.set(local(2026, 1, 12, 23, 59))
    assert len([k for k in scan() if "escalated" in k]) == 1
    clock.set(local(2026, 1, 13, 0, 0))  # end of Jan 12: 7 working days
    assert f"assignment.escalated:{a}:2025-12-31:L2:office" in scan()

    # The figures in the message are exact as of when each notice was created.
    fan_out(session, now=clock.now(), settings=settings)
    payloads = {e.dedupe_key: e.payload["data"] for e in session.exec(select(OutboxEvent)).all()}
    assert payloads[f"assignment.escalated:{a}:2025-12-31:L1:unit_head"]["working_days_overdue"] == 3
    assert payloads[f"assignment.escalated:{a}:2025-12-31:L2:office"]["working_days_overdue"] == 7
    assert payloads[f"assignment.overdue:{a}:2025-12-31:due:unit"]["working_days_overdue"] == 0
    # Dec 23..31: seven working days after Monday Dec 22, as the policy's "7 working days before".
    assert payloads[f"assignment.due_soon:{a}:2025-12-31:7wd:unit"]["working_days_left"] == 7


def test_escalation_level_2_goes_to_the_office(session: Session, settings: Settings) -> None:
    from notifier.fanout import Directory

    w = make_world(session)
    scan_deadlines(session, now=local(2026, 1, 13, 0, 0), settings=settings)
    fan_out(session, now=local(2026, 1, 13, 0, 0), settings=settings)
    ev = session.exec(select(OutboxEvent).where(OutboxEvent.dedupe_key.endswith(":L2:office"))).one()  # type: ignore[attr-defined]
    assert ev.payload["data"]["recipient"]["code"] == "office"
    users, emails = Directory.load(session).resolve("office", [])
    assert users == [w.office_user.id] and emails == ["office@example.gov.cn"]
    users, _ = Directory.load(session).resolve("leader", [])
    assert users == [w.leader.id]


def test_a_batch_loads_only_the_people_it_can_reach(session: Session, settings: Settings) -> None:
    from notifier.fanout import Directory

    w = make_world(session)
    other = make_unit(session)
    outsider = make_user(session, roles=[Role.unit_head], unit_id=other.id, email="x@example.gov.cn")
    # An office role held outside the office's unit, and a leader of no unit.
    deputy = make_user(session, roles=[Role.office, Role.unit_staff], unit_id=other.id)
    chief = make_user(session, roles=[Role.leader])
    session.commit()
    unit_only = Directory.load(session, unit_ids=[w.unit.id], groups={"unit"})
    assert {u[0] for u in unit_only.users} == {w.head.id, w.staff.id}
    assert unit_only.resolve("unit", [w.unit.id]) == (
        [w.head.id, w.staff.id],
        ["keji@example.gov.cn", "head@example.gov.cn", "staff@example.gov.cn"],
    )
    assert unit_only.resolve("unit_head", [w.unit.id])[0] == [w.head.id]
    everyone = Directory.load(session)
    for group in ("office", "leader"):
        part = Directory.load(session, unit_ids=[], groups={group})
        assert outsider.id not in {u[0] for u in part.users}
        assert part.resolve(group, []) == everyone.resolve(group, [])
    assert set(everyone.resolve("office", [])[0]) == {w.office_user.id, deputy.id}
    assert set(everyone.resolve("leader", [])[0]) == {w.leader.id, chief.id}


def test_late_scan_skips_superseded_due_soon_but_sends_each_level_once(
    session: Session, settings: Settings
) -> None:
    w = make_world(session)
    a = w.assignment.id
    # The notifier was down until the day before the deadline: only the 1-day reminder is created.
    scan_deadlines(session, now=local(2025, 12, 30, 9), settings=settings)
    assert deadline_keys(session, a) == [f"assignment.due_soon:{a}:2025-12-31:1wd:unit"]
    # Down again until 2026-01-20 (12 working days overdue): overdue, level 1 and 2, each once; not level 3.
    scan_deadlines(session, now=local(2026, 1, 20, 9), settings=settings)
    scan_deadlines(session, now=local(2026, 1, 20, 10), settings=settings)
    session.commit()
    got = Counter(k.rsplit(":", 2)[1] for k in deadline_keys(session, a))
    assert got == Counter({"1wd": 1, "due": 1, "L1": 1, "L2": 1})
    # Level 3 after 15 working days (end of Jan 22).
    scan_deadlines(session, now=local(2026, 1, 23, 0, 0), settings=settings)
    assert f"assignment.escalated:{a}:2025-12-31:L3:leader" in deadline_keys(session, a)


def test_extension_yields_new_keys_and_closed_assignments_are_quiet(
    session: Session, settings: Settings
) -> None:
    w = make_world(session)
    done = make_assignment(session, unit=w.unit, due_date=date(2025, 12, 31), state=AssignmentState.completed)
    now = local(2026, 1, 5, 9)
    scan_deadlines(session, now=now, settings=settings)
    assert deadline_keys(session, done.id) == []
    w.assignment.due_date = date(2026, 1, 9)
    session.add(w.assignment)
    session.commit()
    scan_deadlines(session, now=now, settings=settings)
    new = [k for k in deadline_keys(session, w.assignment.id) if "2026-01-09" in k]
    assert new == [f"assignment.due_soon:{w.assignment.id}:2026-01-09:7wd:unit"]


def test_plan_policy_override(session: Session, settings: Settings) -> None:
    w = make_world(session)
    plan_id = w.assignment.plan_id
    session.add(
        NotificationPolicy(
            plan_id=plan_id,
            config={
                "due_soon_working_days": [5],
                "escalation_levels": [{"level": 1, "after_working_days": 1, "recipients": ["office"]}],
            },
        )
    )
    session.commit()
    a = w.assignment.id
    scan_deadlines(session, now=local(2025, 12, 24, 9), settings=settings)
    assert deadline_keys(session, a) == [f"assignment.due_soon:{a}:2025-12-31:5wd:unit"]
    scan_deadlines(session, now=local(2026, 1, 5, 0, 0), settings=settings)
    assert f"assignment.escalated:{a}:2025-12-31:L1:office" in deadline_keys(session, a)


def test_report_due_soon_and_missing(session: Session, settings: Settings) -> None:
    plan = make_plan(session)  # monthly, due on the 25th
    unit = make_unit(session)
    a = make_assignment(session, task=make_task(session, plan=plan), unit=unit, due_date=date(2026, 12, 31))
    other = make_assignment(
        session, task=make_task(session, plan=plan), unit=unit, due_date=date(2026, 12, 31)
    )
    make_report(session, assignment=other, period="2025-12")
    session.commit()
    # 2025-12-25 is a Thursday; 3 working days before is Monday 12-22.
    scan_deadlines(session, now=local(2025, 12, 22, 9), settings=settings)
    # The other unit already reported for 2025-12: only `a` is reminded.
    assert [k for k in keys(session) if k.startswith("report.due_soon")] == [
        f"report.due_soon:{a.id}:2026-12-31:report-2025-12:unit"
    ]
    scan_deadlines(session, now=local(2025, 12, 26, 9), settings=settings)
    missing = [k for k in keys(session) if k.startswith("report.missing") and "2025-12" in k]
    assert missing == [f"report.missing:{a.id}:2026-12-31:report-2025-12:unit"]


def test_report_deadlines_by_cadence() -> None:
    assert report_deadlines(date(2025, 12, 10), "monthly", 25) == (
        ("2025-12", date(2025, 12, 25)),
        ("2025-11", date(2025, 11, 25)),
    )
    up, past = report_deadlines(date(2025, 11, 10), "quarterly", 25)
    assert up == ("2025-Q4", date(2025, 12, 25)) and past == ("2025-Q3", date(2025, 9, 25))
    up, past = report_deadlines(date(2025, 12, 10), "weekly", 25)
    assert up == ("2025-W50", date(2025, 12, 12)) and past == ("2025-W49", date(2025, 12, 5))


def test_daily_digest_once_per_working_day(session: Session, settings: Settings) -> None:
    w = make_world(session)
    make_assignment(session, unit=w.unit, due_date=date(2026, 3, 31))
    session.commit()
    scan_deadlines(session, now=local(2026, 1, 5, 7, 59), settings=settings)
    assert not [k for k in keys(session) if k.startswith("digest")]
    scan_deadlines(session, now=local(2026, 1, 5, 9), settings=settings)
    scan_deadlines(session, now=local(2026, 1, 5, 17), settings=settings)
    digests = [k for k in keys(session) if k.startswith("digest")]
    assert digests == ["digest.daily:2026-01-05:office", f"digest.daily:2026-01-05:unit:{w.unit.id}"]
    unit_digest = session.exec(select(OutboxEvent).where(OutboxEvent.dedupe_key == digests[1])).one()
    assert unit_digest.payload["data"]["open"] == 2 and unit_digest.payload["data"]["overdue"] == 1
    # Saturday 2026-01-10 is a rest day: no digest.
    scan_deadlines(session, now=local(2026, 1, 10, 9), settings=settings)
    assert not [k for k in keys(session) if k.startswith("digest.daily:2026-01-10")]


def test_scan_is_set_based(session: Session, settings: Settings) -> None:
    """The number of statements does not grow with the number of open assignments."""
    w = make_world(session)
    task = make_task(session, plan=make_plan(session))

    def count_statements(n: int, day: int) -> int:
        for i in range(n):
            make_assignment(
                session,
                task=task,
                unit=w.unit,
                period=f"{n}-{i}",
                due_date=date(2025, 12, 1) + timedelta(days=i % 40),
            )
        session.commit()
        statements: list[str] = []
        engine = session.get_bind()

        def listener(*args: object) -> None:
            statements.append(str(args[2]))

        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            scan_deadlines(session, now=local(2026, 1, day, 9), settings=settings)
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    count_statements(0, 20)  # the day's digest is written once, then skipped
    assert count_statements(3, 20) == count_statements(60, 20)


def test_notices_in_an_uncovered_year_say_so_until_the_office_loads_it(
    session: Session, settings: Settings
) -> None:
    from api.calendar.schemas import YearNotice
    from api.calendar.service import set_year
    from notifier.render import render
    from tests.factories import make_user

    w = make_world(session)
    a = make_assignment(session, unit=w.unit, due_date=date(2027, 1, 1))
    session.commit()

    def due_soon_texts(now: datetime) -> list[str]:
        scan_deadlines(session, now=now, settings=settings)
        fan_out(session, now=now, settings=settings)
        session.commit()
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.type == "assignment.due_soon")).all()
        return [render(e.type, e.payload["data"]).text for e in rows if e.assignment_id == a.id]

    texts = due_soon_texts(local(2026, 12, 28, 9))
    assert texts and all("注：2027年节假日安排尚未载入，工作日暂按周一至周五计算。" in t for t in texts)

    office = make_user(session, roles=["office"])
    notice = YearNotice(rest_days=[date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)], source="测试")
    assert (
        set_year(session, actor=office, year=2027, notice=notice, now=local(2026, 12, 28, 10))[
            "moved_assignments"
        ]
        == 1
    )
    session.refresh(a)
    assert a.due_date == date(2027, 1, 4)
    later = due_soon_texts(local(2026, 12, 29, 9))
    fresh = [t for t in later if "2027年1月4日" in t]
    assert fresh and not any("尚未载入" in t for t in fresh)


def test_deadlines_count_in_the_plans_zone(session: Session, settings: Settings) -> None:
    """A plan in another zone is overdue when its own local day ends (duban.zones), not Shanghai's."""
    from duban import calendar as cal

    berlin = ZoneInfo("Europe/Berlin")
    w = make_world(session)
    home = w.assignment.id  # the installation's zone (Asia/Shanghai)
    away_plan = make_plan(session, timezone="Europe/Berlin")
    away = make_assignment(session, unit=w.unit, plan=away_plan, due_date=date(2025, 12, 31)).id
    session.commit()

    def overdue_ids(now: datetime) -> set[int]:
        scan_deadlines(session, now=now, settings=settings)
        session.commit()
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.type == "assignment.overdue")).all()
        return {r.assignment_id for r in rows if r.assignment_id is not None}

    # 00:30 on 1 January in Shanghai is 17:30 on 31 December in Berlin.
    assert overdue_ids(local(2026, 1, 1, 0, 30)) == {home}
    assert overdue_ids(datetime(2026, 1, 1, 0, 0, tzinfo=berlin)) == {home, away}
    while fan_out(session, now=datetime(2026, 1, 1, 0, 0, tzinfo=berlin), settings=settings).events:
        pass
    notice = session.exec(
        select(OutboxEvent).where(OutboxEvent.type == "assignment.overdue", OutboxEvent.assignment_id == away)
    ).first()
    assert notice is not None
    due_at = datetime.fromisoformat(notice.payload["data"]["due_at"])
    assert due_at == cal.end_of_day(date(2025, 12, 31), berlin)
