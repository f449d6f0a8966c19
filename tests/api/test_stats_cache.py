"""The stats cache (api.stats.cache) never answers a stale figure: every write that changes one —
through the api or straight into the database — and every deadline passing ends the entry.

Each step writes, then reads the figures through the cache and compares them with the figures
computed afresh (the cache emptied): equal, and the change is there.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.sql import visitors
from sqlmodel import Session

from api.stats import cache as stats_cache
from api.stats import service
from duban.clock import FixedClock
from duban.db import make_engine
from duban.models import Assignment, Plan, ProgressReport
from tests.api.conftest import AsRole
from tests.api.sv_fixture import build
from tests.conftest import DatabaseTemplate

PATHS = ("", "/sections", "/tasks", "/units")


def _migration() -> Any:
    path = Path(__file__).parents[2] / "migrations/versions/2026-12-01_stats_generation.py"
    spec = importlib.util.spec_from_file_location("stats_generation_migration", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(client: TestClient, plan_id: int, headers: dict[str, str]) -> dict[str, Any]:
    out = {}
    for p in PATHS:
        r = client.get(f"/api/v1/stats/plans/{plan_id}{p}", headers=headers)
        assert r.status_code == 200, r.text
        out[p] = r.json()
    return out


def _checked(client: TestClient, plan_id: int, headers: dict[str, str]) -> dict[str, Any]:
    """The figures through the cache, asserted equal to the figures computed afresh."""
    cached = _read(client, plan_id, headers)
    stats_cache.clear()
    assert cached == _read(client, plan_id, headers)
    return cached


def test_unchanged_figures_come_from_the_cache(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    office = as_role("office")
    first = _checked(client, f.plan.id or 0, office)
    hits = stats_cache.counts["hit"]
    assert _read(client, f.plan.id or 0, office) == first
    assert stats_cache.counts["hit"] == hits + len(PATHS)


def test_every_write_ends_the_entry(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    f = build(session)
    plan_id = f.plan.id or 0
    office = as_role("office")
    finance = as_role("unit_head", unit=f.finance)
    tech = as_role("unit_head", unit=f.tech)
    before = _checked(client, plan_id, office)
    finance_before = _checked(client, plan_id, finance)

    # 签收: a state.
    a2 = f.a["a2"].id
    assert client.post(f"/api/v1/assignments/{a2}/accept", headers=finance).status_code == 200
    now = _checked(client, plan_id, office)
    assert now[""]["states"]["accepted"] == before[""]["states"]["accepted"] + 1
    assert _checked(client, plan_id, finance)[""]["states"] != finance_before[""]["states"]

    # A report submitted for this period, with a percent.
    r = client.post(
        f"/api/v1/assignments/{a2}/reports",
        json={"text": "推进中", "percent_done": 40, "submit": True},
        headers=finance,
    )
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    after_report = _checked(client, plan_id, office)
    assert after_report[""]["reports"]["submitted"] == now[""]["reports"]["submitted"] + 1

    # Its review: rejected, the report no longer counts.
    rejected = client.post(f"/api/v1/reports/{report_id}/reject", json={"reason": "数据不全"}, headers=office)
    assert rejected.status_code == 200, rejected.text
    assert _checked(client, plan_id, office)[""]["reports"]["submitted"] == now[""]["reports"]["submitted"]

    # An extension: the deadline moves (a1, 10 working days overdue, to 2026-02-27).
    a1 = f.a["a1"].id
    ext = client.post(
        f"/api/v1/assignments/{a1}/extension-requests",
        json={"requested_due_date": "2026-02-27", "reason": "项目审批未完成"},
        headers=tech,
    )
    assert ext.status_code == 201, ext.text
    overdue = _checked(client, plan_id, office)[""]["overdue"]
    approved = client.post(f"/api/v1/extension-requests/{ext.json()['id']}/approve", headers=office)
    assert approved.status_code == 200, approved.text
    assert _checked(client, plan_id, office)[""]["overdue"] == overdue - 1

    # 撤销 (cancel).
    a8 = f.a["a8"].id
    cancelled = client.post(f"/api/v1/assignments/{a8}/cancel", json={"reason": "任务调整"}, headers=office)
    assert cancelled.status_code == 200, cancelled.text
    assert _checked(client, plan_id, office)[""]["states"]["cancelled"] == 2

    # Straight into the database, past the api: a percent, a deadline, a deleted report.
    percent = _checked(client, plan_id, office)[""]["open_percent_avg"]
    session.execute(sa.update(Assignment).where(Assignment.id == a1).values(percent_done=95))
    session.commit()
    assert _checked(client, plan_id, office)[""]["open_percent_avg"] != percent
    overdue = _checked(client, plan_id, office)[""]["overdue"]
    session.execute(
        sa.update(Assignment)
        .where(Assignment.id == a2)
        .values(due_date=date(2026, 3, 31), due_at=datetime(2026, 3, 31, 16, tzinfo=UTC))
    )
    session.commit()
    assert _checked(client, plan_id, office)[""]["overdue"] == overdue - 1
    submitted = _checked(client, plan_id, office)[""]["reports"]["submitted"]
    session.execute(sa.delete(ProgressReport).where(ProgressReport.assignment_id == f.a["a6"].id))
    session.commit()
    assert _checked(client, plan_id, office)[""]["reports"]["submitted"] == submitted - 1
    session.execute(sa.delete(Assignment).where(Assignment.id == f.a["a7"].id))
    session.commit()
    assert _checked(client, plan_id, office)[""]["total"] == before[""]["total"] - 1

    # Time: a deadline passing within the day (one set at 15:00 local) ends the entry by itself.
    a6 = f.a["a6"].id
    session.execute(
        sa.update(Assignment).where(Assignment.id == a6).values(due_at=datetime(2025, 12, 1, 7, tzinfo=UTC))
    )
    session.commit()
    morning = _checked(client, plan_id, office)
    clock.advance(timedelta(hours=7))  # 16:00 local, the same day
    office = as_role("office")  # (a token of now; the entry is the county-wide one all the same)
    afternoon = _read(client, plan_id, office)
    assert afternoon[""]["overdue"] == morning[""]["overdue"] + 1
    stats_cache.clear()
    assert _read(client, plan_id, office) == afternoon


def test_the_next_day_is_another_entry(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    f = build(session)
    office = as_role("office")
    today = _checked(client, f.plan.id or 0, office)
    clock.advance(timedelta(days=1))  # Tuesday: one more working day overdue for a1
    office = as_role("office")
    tomorrow = _checked(client, f.plan.id or 0, office)
    assert tomorrow[""]["overdue_working_days_max"] == today[""]["overdue_working_days_max"] + 1


def test_the_triggers_watch_what_the_figures_read(session: Session) -> None:
    """Every assignment and report column the group statements read is one the triggers watch."""
    migration = _migration()
    watched = {c.strip() for c in migration.WATCHED.split(",")} | {"id"}
    report_watched = {c.strip() for c in migration.REPORT_WATCHED.split(",")}
    plan = session.get(Plan, build(session).plan.id)
    assert plan is not None
    ctx = service.make_context(session, plan=plan, user=None, now=datetime(2025, 12, 1, 1, tzinfo=UTC))
    read: dict[str, set[str]] = {"assignment": set(), "progress_report": set()}
    captured: list[Any] = []
    original = session.execute

    def capture(stmt: Any, *args: Any, **kw: Any) -> Any:
        captured.append(stmt)
        return original(stmt, *args, **kw)

    session.execute = capture  # type: ignore[method-assign]
    try:
        for by in service.GROUPS:
            for exact in (False, True):
                service._group_rows(session, ctx, by, exact=exact, checked=True)
    finally:
        session.execute = original  # type: ignore[method-assign]
    for stmt in captured:
        for element in visitors.iterate(stmt):
            name = getattr(getattr(element, "table", None), "name", None)
            if isinstance(element, sa.Column) and name in read:
                read[name].add(element.name)
    assert read["assignment"] and read["assignment"] <= watched, read["assignment"] - watched
    assert read["progress_report"] - {"id"} <= report_watched, read["progress_report"]


def test_concurrent_writers_of_a_plan_do_not_wait_on_its_counter(db_template: DatabaseTemplate) -> None:
    """On PostgreSQL a bump takes a counter row no other transaction holds (or a new one): a writer
    of another assignment of the plan goes on while one is open, each committed transaction moves
    the sum, a rolled-back one does not."""
    if db_template.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    url = db_template.fresh_url()
    engine = make_engine(url, null_pool=True)
    try:
        with Session(engine) as s:
            f = build(s)
            plan_id, ids = f.plan.id, [f.a[k].id for k in ("a1", "a2", "a3")]
            s.commit()
        total = sa.text("SELECT coalesce(sum(generation), 0) FROM stats_plan_generation WHERE plan_id = :p")
        touch = sa.text("UPDATE assignment SET percent_done = percent_done WHERE id = :id")
        with engine.connect() as reader:
            start = reader.execute(total, {"p": plan_id}).scalar_one()
        with engine.connect() as held, engine.connect() as other:
            held.execute(touch, {"id": ids[0]})  # its transaction stays open, holding a counter row
            other.execute(sa.text("SET lock_timeout = '2s'"))
            other.execute(touch, {"id": ids[1]})
            other.execute(touch, {"id": ids[2]})  # once per plan and transaction
            other.commit()
            with engine.connect() as reader:
                assert reader.execute(total, {"p": plan_id}).scalar_one() == start + 1
            held.commit()
            other.execute(touch, {"id": ids[1]})
            other.rollback()
        with engine.connect() as reader:
            assert reader.execute(total, {"p": plan_id}).scalar_one() == start + 2
    finally:
        engine.dispose()
        db_template.drop(url)
