from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from duban.clock import FixedClock
from tests.api.conftest import AsRole
from tests.api.sv_fixture import build


def test_plan_stats_every_number(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    r = client.get(f"/api/v1/stats/plans/{f.plan.id}", headers=as_role("office"))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["total"] == 8
    assert s["states"] == {
        "assigned": 1,
        "accepted": 2,
        "returned": 0,
        "completion_requested": 1,
        "completed": 3,
        "cancelled": 1,
    }
    assert (s["open"], s["overdue"]) == (4, 2)
    assert (s["overdue_working_days_max"], s["overdue_working_days_sum"]) == (10, 10)
    assert (s["completed"], s["completed_on_time"], s["completed_late"], s["completed_after_extension"]) == (
        3,
        1,
        1,
        1,
    )
    assert s["behind"] == 1
    assert s["reports"] == {
        "period": "2025-12",
        "due_date": "2025-12-25",
        "expected": 4,
        "submitted": 1,
        "rate": 0.25,
    }
    assert s["rag"] == "red"
    assert s["rag_reason"] == "2项逾期，最长逾期10个工作日"


def test_stats_by_unit_section_and_task(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    leader = as_role("leader")
    units = {
        u["name"]: u
        for u in client.get(f"/api/v1/stats/plans/{f.plan.id}/units", headers=leader).json()["items"]
    }
    assert list(units) == ["县科技局", "县财政局", "高沟镇"]  # most overdue first
    tech, fin, town = units["县科技局"], units["县财政局"], units["高沟镇"]
    assert (tech["total"], tech["overdue"], tech["overdue_working_days_max"], tech["behind"]) == (3, 1, 10, 1)
    assert (tech["rag"], tech["rag_reason"]) == ("red", "逾期10个工作日")
    assert (fin["overdue"], fin["completed_late"], fin["states"]["cancelled"]) == (1, 1, 1)
    assert (fin["rag"], fin["rag_reason"]) == ("red", "逾期不足1个工作日")
    assert (town["completed_after_extension"], town["completed_on_time"], town["rag"]) == (1, 0, "green")
    assert town["reports"]["expected"] == 1 and town["reports"]["submitted"] == 0

    sections = client.get(f"/api/v1/stats/plans/{f.plan.id}/sections", headers=leader).json()["items"]
    assert [(x["code"], x["total"], x["rag"]) for x in sections] == [
        ("一", 5, "red"),
        ("二", 3, "yellow"),
        ("三", 0, "green"),
    ]
    assert sections[1]["rag_reason"] == "1项进度低于预期"
    assert sections[2]["rag_reason"] == "暂无交办任务"
    tasks = client.get(f"/api/v1/stats/plans/{f.plan.id}/tasks", headers=leader).json()["items"]
    assert [(x["code"], x["total"], x["overdue"], x["completed"]) for x in tasks] == [
        ("1", 2, 2, 0),
        ("2", 3, 0, 2),
        ("3", 3, 0, 1),
    ]


def test_unit_user_sees_only_its_unit(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    headers = as_role("unit_staff", unit=f.town)
    s = client.get(f"/api/v1/stats/plans/{f.plan.id}", headers=headers).json()
    assert (s["total"], s["overdue"], s["completed_after_extension"]) == (2, 0, 1)
    units = client.get(f"/api/v1/stats/plans/{f.plan.id}/units", headers=headers).json()["items"]
    assert [u["name"] for u in units] == ["高沟镇"]
    inds = client.get(f"/api/v1/stats/plans/{f.plan.id}/indicators", headers=headers).json()["items"]
    assert [i["name"] for i in inds] == ["高新技术企业数"]
    overdue = client.get(f"/api/v1/stats/plans/{f.plan.id}/overdue", headers=headers).json()["items"]
    assert overdue == []


def test_clock_moves_working_days_and_missing_reports(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    f = build(session)
    clock.set(datetime(2025, 12, 26, 2, tzinfo=UTC))  # Friday 10:00 local, report due 12-25 has passed
    viewer = as_role("viewer")
    s = client.get(f"/api/v1/stats/plans/{f.plan.id}", headers=viewer).json()
    # a1: Nov 17–28 (10) + Dec 1–25 (19) = 29; a2: Dec 1–25 = 19.
    assert (s["overdue_working_days_max"], s["overdue_working_days_sum"]) == (29, 48)
    town = [
        u
        for u in client.get(f"/api/v1/stats/plans/{f.plan.id}/units", headers=viewer).json()["items"]
        if u["name"] == "高沟镇"
    ][0]
    assert (town["rag"], town["rag_reason"]) == ("yellow", "本期1项未报送进展")
    overdue = client.get(f"/api/v1/stats/plans/{f.plan.id}/overdue", headers=viewer).json()["items"]
    assert [(o["assignment_id"], o["working_days_overdue"], o["reason"]) for o in overdue] == [
        (f.a["a1"].id, 29, "逾期29个工作日"),
        (f.a["a2"].id, 19, "逾期19个工作日"),
    ]


def test_indicator_stats(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    inds = {
        i["name"]: i
        for i in client.get(f"/api/v1/stats/plans/{f.plan.id}/indicators", headers=as_role("office")).json()[
            "items"
        ]
    }
    rd, hi = inds["全社会研发投入占GDP比重"], inds["高新技术企业数"]
    assert (rd["latest_value"], rd["achieved"]) == (1.5, False)
    assert abs(rd["progress"] - 0.5) < 1e-9  # (1.5 − 1.2) / (1.8 − 1.2)
    assert (hi["latest_value"], hi["achieved"], hi["rag"]) == (52, True, "green")


def test_stats_unknown_plan_is_404(client: TestClient, as_role: AsRole) -> None:
    r = client.get("/api/v1/stats/plans/999999", headers=as_role("office"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "plan.not_found"


def test_working_days_overdue_many_matches_the_calendar() -> None:
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from api.stats.service import working_days_overdue_many
    from duban import calendar

    zone = ZoneInfo("Asia/Shanghai")
    days = [date(2025, 9, 1) + timedelta(days=i) for i in range(0, 200, 3)] + [date(2026, 2, 1)]
    for today in (date(2026, 1, 5), date(2026, 1, 13), date(2025, 10, 9)):
        now = calendar.start_of_day(today, zone) + timedelta(hours=9)
        fast = working_days_overdue_many(days, today)
        assert fast == {d: calendar.working_days_overdue(d, now, zone) for d in days}
    # The design's example: due 2025-12-31 is 1 working day overdue at the end of 2026-01-04.
    assert working_days_overdue_many([date(2025, 12, 31)], date(2026, 1, 5)) == {date(2025, 12, 31): 1}


def test_deadline_far_outside_the_plan_period(client: TestClient, as_role: AsRole, session: Session) -> None:
    from datetime import date

    from duban import calendar
    from duban.models import AssignmentState
    from tests.api.sv_factories import make_sv_assignment
    from tests.conftest import DEFAULT_NOW
    from tests.factories import make_plan, make_task, make_unit

    # PostgreSQL covers a window of days around the plan period; this deadline lies outside it
    # (the exact fallback), and an extension's original deadline even further back.
    plan = make_plan(session, period_start=date(2024, 1, 1), period_end=date(2025, 12, 31))
    task = make_task(session, plan=plan, code="9")
    unit = make_unit(session)
    a = make_sv_assignment(
        session, task=task, unit=unit, state=AssignmentState.accepted, due_date=date(2021, 6, 30)
    )
    make_sv_assignment(
        session,
        task=task,
        unit=make_unit(session),
        state=AssignmentState.completed,
        due_date=date(2021, 6, 30),
        original_due_date=date(2020, 12, 31),
        extension_count=1,
        completed_at=DEFAULT_NOW.replace(year=2021, month=3),
    )
    session.commit()
    expected = calendar.working_days_overdue(date(2021, 6, 30), DEFAULT_NOW, calendar.tz("Asia/Shanghai"))
    assert expected > 1000
    s = client.get(f"/api/v1/stats/plans/{plan.id}", headers=as_role("office")).json()
    assert (s["overdue"], s["overdue_working_days_max"]) == (1, expected)
    assert (s["completed_after_extension"], s["completed_on_time"]) == (1, 0)
    items = client.get(f"/api/v1/stats/plans/{plan.id}/overdue", headers=as_role("office")).json()["items"]
    assert [(i["assignment_id"], i["working_days_overdue"]) for i in items] == [(a.id, expected)]


def test_late_assignment_counts_overdue_from_its_assignment_day(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    """Found by the state machine: assigned on 2025-11-24, due 2025-11-14, the figures counted from
    the due date (9 working days on 2025-12-01) while the assignment itself counted from the day
    it was given (4: Nov 25–28). Every figure now counts from the later of the two."""
    from datetime import date

    from tests.api.sv_factories import make_sv_assignment
    from tests.factories import make_plan, make_task, make_unit

    plan = make_plan(session)
    task = make_task(session, plan=plan, due_date=date(2025, 11, 14))
    late, on_time = make_unit(session, name="迟交单位"), make_unit(session, name="按时单位")
    a = make_sv_assignment(session, task=task, unit=late, overdue_from=date(2025, 11, 24))
    make_sv_assignment(session, task=task, unit=on_time)  # overdue since the 14th: 10 working days
    session.commit()
    office = as_role("office")
    detail = client.get(f"/api/v1/assignments/{a.id}", headers=office).json()
    assert detail["working_days_overdue"] == 4
    units = {
        r["name"]: r
        for r in client.get(f"/api/v1/stats/plans/{plan.id}/units", headers=office).json()["items"]
    }
    assert units["迟交单位"]["overdue_working_days_max"] == 4
    assert units["按时单位"]["overdue_working_days_max"] == 10
    totals = client.get(f"/api/v1/stats/plans/{plan.id}", headers=office).json()
    assert (totals["overdue_working_days_max"], totals["overdue_working_days_sum"]) == (10, 14)
    listed = client.get(f"/api/v1/stats/plans/{plan.id}/overdue", headers=office).json()
    by_unit = {i["unit_name"]: i["working_days_overdue"] for i in listed["items"]}
    assert by_unit == {"迟交单位": 4, "按时单位": 10}
    # As of a past instant (rebuilt from history, as bulletins are) the same rule holds.
    from api.stats import service

    past = service.group_stats(
        session, plan=plan, user=None, now=clock.now(), by="unit", at=datetime(2025, 11, 28, 2, tzinfo=UTC)
    )
    assert {r["name"]: r["overdue_working_days_max"] for r in past} == {"迟交单位": 3, "按时单位": 9}
