"""The office's holiday table: coverage, loading a year, the warning until then, the SQL ordinals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from duban import calendar, calendar_store
from duban.models import Assignment, AssignmentState, AuditEntry, CalendarDay
from tests.api.conftest import AsRole
from tests.factories import make_assignment, make_plan, make_task, make_unit

# A notice in the State Council's shape (test data, not the real 2027 notice).
NOTICE_2027: dict[str, Any] = {
    "source": "国办发明电〔2026〕99号（测试）",
    "rest_days": [
        {"date": "2027-01-01", "name": "元旦"},
        "2027-01-02",
        "2027-01-03",
        *[{"date": f"2027-02-{d:02d}", "name": "春节"} for d in range(6, 14)],
    ],
    "work_days": [{"date": "2027-02-14", "name": "春节调休"}, {"date": "2027-02-20", "name": "春节调休"}],
}


def _put(client: TestClient, headers: dict[str, str], year: int = 2027, body: Any = None) -> Any:
    return client.put(
        f"/api/v1/calendar/years/{year}", json=NOTICE_2027 if body is None else body, headers=headers
    )


def test_coverage_per_year(client: TestClient, as_role: AsRole) -> None:
    r = client.get("/api/v1/calendar/years", headers=as_role("viewer"))
    assert r.status_code == 200, r.text
    by_year = {y["year"]: y["coverage"] for y in r.json()}
    assert by_year[2004] == by_year[2026] == "package"
    assert by_year[2027] == "none"  # two years past today (2025-12-01) are listed


def test_a_2027_deadline_warns_until_the_office_loads_2027(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    unit = make_unit(session)
    a = make_assignment(
        session,
        task=make_task(session, plan=make_plan(session)),
        unit=unit,
        state=AssignmentState.accepted,
        due_date=date(2026, 12, 30),
    )
    session.commit()
    head, office = as_role("unit_head", unit=unit), as_role("office")

    ext = client.post(
        f"/api/v1/assignments/{a.id}/extension-requests",
        json={"requested_due_date": "2027-01-01", "reason": "跨年项目"},
        headers=head,
    )
    assert ext.status_code == 201, ext.text
    assert [w["code"] for w in ext.json()["warnings"]] == ["calendar.year_uncovered"]
    assert ext.json()["warnings"][0]["years"] == [2027]
    assert "2027年" in ext.json()["warnings"][0]["message"]
    listed_ext = client.get("/api/v1/extension-requests", params={"assignment_id": a.id}, headers=office)
    assert [w["years"] for w in listed_ext.json()["items"][0]["warnings"]] == [[2027]]
    approved = client.post(f"/api/v1/extension-requests/{ext.json()['id']}/approve", headers=office)
    assert approved.status_code == 200, approved.text

    # Uncovered: 2027-01-01 is a Friday under Monday–Friday, so it stays — with the warning.
    got = client.get(f"/api/v1/assignments/{a.id}", headers=office).json()
    assert got["due_date"] == "2027-01-01"
    assert [w["code"] for w in got["warnings"]] == ["calendar.year_uncovered"]
    listed = client.get("/api/v1/assignments", params={"unit_id": unit.id}, headers=office).json()["items"]
    assert listed[0]["warnings"] and listed[0]["warnings"][0]["years"] == [2027]

    loaded = _put(client, office)
    assert loaded.status_code == 200, loaded.text
    body = loaded.json()
    assert body["coverage"] == "office" and body["office_rest_days"] == 11 and body["office_work_days"] == 2
    assert body["source"] == NOTICE_2027["source"]
    assert body["moved_assignments"] == 1

    # Loaded: the deadline on New Year's Day moved to Monday 4 January, and the warning is gone.
    got = client.get(f"/api/v1/assignments/{a.id}", headers=office).json()
    assert got["due_date"] == "2027-01-04" and got["warnings"] == []
    session.refresh(a)
    assert a.due_at == datetime(2027, 1, 4, 16, 0, tzinfo=UTC)
    moved = session.exec(
        select(AuditEntry).where(AuditEntry.action == "assignment.due_moved_by_calendar")
    ).one()
    assert (
        moved.before
        and moved.after
        and (moved.before["due_date"], moved.after["due_date"])
        == (
            "2027-01-01",
            "2027-01-04",
        )
    )
    assert (
        session.exec(select(AuditEntry).where(AuditEntry.action == "calendar.set_year")).one().entity_id
        == "2027"
    )

    # A new request for the same day is now decided on the office's calendar.
    ext2 = client.post(
        f"/api/v1/assignments/{a.id}/extension-requests",
        json={"requested_due_date": "2027-02-08", "reason": "春节后复工"},
        headers=head,
    )
    assert ext2.status_code == 201 and ext2.json()["warnings"] == []
    assert (
        client.post(f"/api/v1/extension-requests/{ext2.json()['id']}/approve", headers=office).status_code
        == 200
    )
    session.refresh(a)
    assert a.due_date == date(2027, 2, 14)  # 6–13 February off; Sunday the 14th is a 调休 working day

    years = {y["year"]: y["coverage"] for y in client.get("/api/v1/calendar/years", headers=head).json()}
    assert years[2027] == "office"


def test_days_in_a_range(client: TestClient, as_role: AsRole) -> None:
    office = as_role("office")
    r = client.get("/api/v1/calendar/days", params={"from": "2026-01-01", "to": "2026-01-05"}, headers=office)
    assert r.status_code == 200, r.text
    days = {d["date"]: d for d in r.json()}
    assert days["2026-01-01"]["kind"] == "holiday" and days["2026-01-01"]["name"] == "元旦"
    assert days["2026-01-04"]["kind"] == "adjusted_workday" and days["2026-01-04"]["is_working_day"]
    assert days["2026-01-04"]["source"] == "package"
    assert days["2026-01-05"]["working_ordinal"] - days["2026-01-04"]["working_ordinal"] == 1

    before = client.get(
        "/api/v1/calendar/days", params={"from": "2027-01-01", "to": "2027-01-01"}, headers=office
    )
    assert before.json()[0] | {"working_ordinal": 0} == {
        "date": "2027-01-01",
        "is_working_day": True,
        "kind": "workday",
        "name": None,
        "source": "weekday",
        "coverage": "none",
        "working_ordinal": 0,
    }
    assert _put(client, office).status_code == 200
    after = client.get(
        "/api/v1/calendar/days", params={"from": "2027-01-01", "to": "2027-01-01"}, headers=office
    )
    assert after.json()[0]["kind"] == "holiday" and after.json()[0]["source"] == "office"
    assert after.json()[0]["name"] == "元旦" and after.json()[0]["coverage"] == "office"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "calendar.bad_range"),
        ({"from": "2026-01-01", "to": "2027-06-01"}, "calendar.range_too_long"),
        ({"from": "2026-01-01"}, "validation_error"),
        ({"from": "yesterday", "to": "2026-01-01"}, "validation_error"),
    ],
)
def test_days_bad_input(client: TestClient, as_role: AsRole, params: dict[str, str], code: str) -> None:
    r = client.get("/api/v1/calendar/days", params=params, headers=as_role("viewer"))
    assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text


@pytest.mark.parametrize(
    ("year", "body", "code"),
    [
        (2027, {"rest_days": []}, "validation_error"),
        (2027, {"rest_days": ["2028-01-01"]}, "calendar.day_outside_year"),
        (2027, {"rest_days": ["2027-01-01"], "work_days": ["2027-01-01"]}, "calendar.day_conflict"),
        (2070, {"rest_days": ["2070-01-01"]}, "calendar.year_out_of_range"),
        (2027, {"rest_days": ["2027-02-30"]}, "validation_error"),
        (2027, [], "validation_error"),
    ],
)
def test_set_year_bad_input(client: TestClient, as_role: AsRole, year: int, body: Any, code: str) -> None:
    r = _put(client, as_role("office"), year, body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in err["message"])


def test_only_the_office_loads_a_year(client: TestClient, as_role: AsRole, session: Session) -> None:
    assert _put(client, as_role("unit_head")).status_code == 403
    assert _put(client, as_role("leader")).status_code == 403
    assert _put(client, as_role("admin")).status_code == 200


def test_a_second_load_replaces_the_year(client: TestClient, as_role: AsRole) -> None:
    office = as_role("office")
    assert _put(client, office).status_code == 200
    r = _put(client, office, body={"source": "更正", "rest_days": ["2027-01-01"]})
    assert r.status_code == 200 and (r.json()["office_rest_days"], r.json()["office_work_days"]) == (1, 0)
    days = client.get(
        "/api/v1/calendar/days", params={"from": "2027-02-08", "to": "2027-02-08"}, headers=office
    )
    assert days.json()[0]["is_working_day"] is True  # the Spring Festival rows of the first load are gone


def test_the_sql_table_follows_the_office(client: TestClient, as_role: AsRole, session: Session) -> None:
    """calendar_day holds the same ordinals as the process, before and after a load."""

    def table(start: date, end: date) -> dict[date, tuple[bool, int]]:
        rows = session.exec(select(CalendarDay).where(CalendarDay.day >= start, CalendarDay.day <= end)).all()
        return {r.day: (r.is_working_day, r.working_ordinal) for r in rows}

    def expected(start: date, end: date) -> dict[date, tuple[bool, int]]:
        cal, out, day = calendar.current(), {}, start
        while day <= end:
            out[day] = (cal.is_working_day(day), cal.ordinal(day))
            day += timedelta(days=1)
        return out

    span = (date(2025, 12, 1), date(2028, 1, 31))
    assert table(*span) == expected(*span)
    assert _put(client, as_role("office")).status_code == 200
    session.expire_all()
    assert calendar.current().coverage(2027) == "office"
    assert table(*span) == expected(*span)
    assert table(date(2027, 1, 1), date(2027, 1, 1))[date(2027, 1, 1)][0] is False
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(CalendarDay))
        == (calendar.SPAN_END - calendar.EPOCH).days + 1
    )


def test_scanner_cutoffs_and_overdue_counts_in_sql(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    """The database computes what duban.calendar computes: cutoffs and working days overdue."""
    zone = calendar.tz("Asia/Shanghai")
    assert _put(client, as_role("office")).status_code == 200
    for today in (
        date(2026, 1, 5),
        date(2026, 2, 24),
        date(2027, 1, 4),
        date(2027, 2, 16),
        date(2027, 2, 21),
    ):
        now = calendar.start_of_day(today, zone) + timedelta(hours=9)
        for n in (0, 1, 3, 7, 15):
            in_sql = calendar_store.overdue_cutoff_in_sql(session, today=today, n=n)
            assert in_sql == calendar.latest_due_date_overdue_by(now, n, zone), (today, n)

    plan = make_plan(session)
    task = make_task(session, plan=plan)
    dues = [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 4), date(2027, 2, 5), date(2027, 2, 15)]
    for due in dues:
        make_assignment(session, task=task, unit=make_unit(session), due_date=due)
    session.commit()
    today = date(2027, 2, 22)
    expr = calendar_store.working_days_overdue_sql(Assignment.due_date, today)
    got = dict(
        session.execute(sa.select(Assignment.due_date, expr).where(Assignment.plan_id == plan.id)).all()
    )
    now = calendar.start_of_day(today, zone)
    assert got == {d: calendar.working_days_overdue(d, now, zone) for d in dues}
    # "overdue by at least 5 working days" as a filter, in the database.
    at_least_5 = session.scalars(
        sa.select(Assignment.due_date)
        .where(Assignment.plan_id == plan.id, expr >= 5)
        .order_by(Assignment.due_date)
    ).all()
    assert at_least_5 == [d for d in dues if calendar.working_days_overdue(d, now, zone) >= 5]


def test_plan_preview_and_import_warn_about_uncovered_deadlines(client: TestClient, as_role: AsRole) -> None:
    office = as_role("office")
    doc = {"plan": {"title": "跨年计划"}, "sections": [{"code": "一", "title": "甲", "tasks": [
        {"code": "1", "title": "任务一", "lead_units": ["县科技局"], "due": "2027-06-30"},
        {"code": "2", "title": "任务二", "lead_units": ["县科技局"], "due": "2026-06-30"}]}]}  # fmt: skip
    preview = client.post("/api/v1/plans/import", params={"dry_run": "true"}, json=doc, headers=office)
    assert preview.status_code == 200, preview.text
    warned = [w for w in preview.json()["warnings"] if w["code"] == "calendar.year_uncovered"]
    assert len(warned) == 1 and warned[0]["message"].startswith("1项任务的截止日期在2027年")
    assert _put(client, office).status_code == 200
    again = client.post("/api/v1/plans/import", params={"dry_run": "true"}, json=doc, headers=office)
    assert not [w for w in again.json()["warnings"] if w["code"] == "calendar.year_uncovered"]


def test_list_filter_overdue_by_at_least_n_working_days(
    client: TestClient, as_role: AsRole, session: Session, clock: Any
) -> None:
    """The filter runs in SQL (calendar_day) and agrees with the per-row count."""
    plan = make_plan(session)
    task = make_task(session, plan=plan)
    dues = [date(2025, 12, 31), date(2026, 1, 5), date(2026, 1, 7), date(2026, 1, 9), date(2026, 1, 12)]
    for due in dues:
        make_assignment(session, task=task, unit=make_unit(session), due_date=due)
    session.commit()
    clock.set(datetime(2026, 1, 13, 1, 0, tzinfo=UTC))  # 09:00 on Tuesday 13 January
    office = as_role("office")
    for n in (1, 3, 5, 7, 8):
        r = client.get(
            "/api/v1/assignments",
            params={"plan_id": plan.id, "min_working_days_overdue": n, "limit": 50},
            headers=office,
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert all(i["working_days_overdue"] >= n for i in items)
        everything = client.get("/api/v1/assignments", params={"plan_id": plan.id}, headers=office).json()
        expected = sorted(i["due_date"] for i in everything["items"] if i["working_days_overdue"] >= n)
        assert sorted(i["due_date"] for i in items) == expected, n
    # Due 2025-12-31: 7 working days overdue from the end of 12 January (DESIGN.md).
    seven = client.get(
        "/api/v1/assignments", params={"plan_id": plan.id, "min_working_days_overdue": 7}, headers=office
    ).json()["items"]
    assert [i["due_date"] for i in seven] == ["2025-12-31"]
    bad = client.get("/api/v1/assignments", params={"min_working_days_overdue": 0}, headers=office)
    assert bad.status_code == 422


@pytest.fixture
def cli_database(pg_shared_engine: Any, committed_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from duban import db
    from duban.settings import get_settings

    if pg_shared_engine is not None:
        pg_shared_engine.dispose()  # CREATE DATABASE … TEMPLATE refuses while it holds a connection
    monkeypatch.setenv("DUBAN_DATABASE_URL", committed_url)
    get_settings.cache_clear()
    db.set_engine(None)
    yield committed_url
    db.get_engine().dispose()
    db.set_engine(None)
    monkeypatch.undo()
    get_settings.cache_clear()


def test_cli_coverage_and_set(cli_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from duban import cli
    from duban.db import make_engine

    engine = make_engine(cli_database)
    with Session(engine, expire_on_commit=False) as s:
        a = make_assignment(s, unit=make_unit(s), due_date=date(2027, 1, 1))
        s.commit()

    assert cli.main(["calendar"]) == 0
    out = capsys.readouterr().out
    assert "2026    软件包 chinesecalendar" in out and "2027    未覆盖（按周一至周五计算）" in out

    text = tmp_path / "2027.txt"
    text.write_text(
        "# 2027年部分节假日安排\nsource: 测试通知\n休 2027-01-01..2027-01-03 元旦\n班 2027-02-14 春节调休\n",
        encoding="utf-8",
    )
    assert cli.main(["calendar", "set", "2027", str(text)]) == 0
    assert "休 3 天、班 1 天（来源：测试通知）；截止日期顺延的在办交办 1 项" in capsys.readouterr().out
    assert cli.main(["calendar"]) == 0
    assert "2027    办公室载入：休 3 天，班 1 天，来源 测试通知" in capsys.readouterr().out
    with Session(engine) as s:
        moved = s.get(Assignment, a.id)
        assert moved is not None and moved.due_date == date(2027, 1, 4)

    as_json = tmp_path / "2028.json"
    as_json.write_text('{"source": "JSON", "rest_days": ["2028-01-01", {"date": "2028-01-03"}]}', "utf-8")
    assert cli.main(["calendar", "set", "2028", str(as_json)]) == 0
    capsys.readouterr()

    bad = tmp_path / "bad.txt"
    bad.write_text("休 2027-13-01\n", encoding="utf-8")
    assert cli.main(["calendar", "set", "2027", str(bad)]) == 1
    assert "第1行的日期“2027-13-01”无效" in capsys.readouterr().err
    wrong_year = tmp_path / "wrong.txt"
    wrong_year.write_text("休 2029-01-01\n", encoding="utf-8")
    assert cli.main(["calendar", "set", "2027", str(wrong_year)]) == 1
    assert "日期不在2027年内" in capsys.readouterr().err
    assert cli.main(["calendar", "set", "2027", str(tmp_path / "missing.txt")]) == 1
    assert "无法读取文件" in capsys.readouterr().err
    engine.dispose()
