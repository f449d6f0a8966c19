from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from api.stats import service as stats_service
from duban import amounts
from duban import db as duban_db
from duban.cli import demo
from duban.cli import main as cli_main
from duban.db import make_engine, session_scope
from duban.models import Assignment, IndicatorValue, Plan, Role, User, WebhookEndpoint
from duban.settings import get_settings


def _check_demo_db(url: str) -> None:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            plan = session.exec(select(Plan)).one()
            roles = {r for u in session.exec(select(User)).all() if u.password_hash for r in u.roles}
            assert roles >= {str(r) for r in Role if r != Role.service}
            assert session.exec(select(func.count()).select_from(Assignment)).one() > 150
            assert session.exec(select(func.count()).select_from(IndicatorValue)).one() > 0
            hook = session.exec(select(WebhookEndpoint)).one()
            assert hook.url == demo.WEBHOOK_SINK and len(hook.event_types) > 5
            rows = stats_service.group_stats(session, plan=plan, user=None, now=demo.DEMO_ANCHOR, by="task")
            assert {r["rag"] for r in rows} == {"green", "yellow", "red"}
            assert sum(r["overdue"] for r in rows) >= 3
            assert sum(r["completed"] for r in rows) > 0
            from api.indicator import service as indicator_service
            from api.indicator.service import COLUMNS

            ind = [dict(r) for r in session.execute(select(*COLUMNS)).mappings()]
            lights = {
                r["status"]["rag"]
                for r in indicator_service.with_status(session, rows=ind, now=demo.DEMO_ANCHOR)
                if r["status"]
            }
            assert "green" in lights and lights & {"yellow", "red"}
            # Counts are whole wherever a person reads them (never 「0.55家」 or 「48.5个」).
            shown = stats_service.indicator_stats(session, plan=plan, user=None, now=demo.DEMO_ANCHOR)
            counted = [i for i in shown if amounts.is_countable(i["unit"], i["target"])]
            assert counted, "the demo plan has countable indicators"
            for i in counted:
                assert i["latest_value"] is None or float(i["latest_value"]).is_integer(), i
                text = f"{i['target_text']} {i['latest_text']} {i['rag_reason']}"
                assert not re.search(r"\d\.\d+(" + "|".join(amounts.COUNT_UNITS) + ")", text), text
    finally:
        engine.dispose()


def test_demo_into_a_fresh_sqlite_file(tmp_path: Path) -> None:
    out = io.StringIO()
    target = tmp_path / "demo.db"
    target.write_bytes(b"stale")  # deleted first
    assert demo.run_demo(str(target), now=demo.DEMO_ANCHOR, out=out) == 0
    text = out.getvalue()
    assert "keji_head" in text and "office" in text and "/docs" in text
    _check_demo_db(f"sqlite:///{target}")


def test_pick_now_keeps_the_demo_inside_the_plan() -> None:
    from datetime import UTC, datetime

    assert demo.pick_now(datetime(2026, 11, 26, tzinfo=UTC)) == demo.DEMO_ANCHOR
    assert demo.pick_now(datetime(2024, 3, 1, tzinfo=UTC)) == demo.DEMO_ANCHOR
    inside = datetime(2025, 12, 10, 2, 0, tzinfo=UTC)
    assert demo.pick_now(inside) == inside
    assert demo.seed_path().is_file()


@pytest.fixture
def current_db(committed_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DUBAN_DATABASE_URL", committed_url)
    monkeypatch.setenv("DUBAN_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    duban_db.set_engine(None)
    yield committed_url
    duban_db.get_engine().dispose()
    duban_db.set_engine(None)
    get_settings.cache_clear()


def test_cli_demo_into_current_on_both_backends(current_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from duban.clock import FixedClock, get_clock, set_clock

    previous = get_clock()
    set_clock(FixedClock(demo.DEMO_ANCHOR))
    try:
        assert cli_main(["demo", "--into-current"]) == 0
        assert "keji_staff" in capsys.readouterr().out
        _check_demo_db(current_db)
        # A second run leaves the database as it is.
        assert cli_main(["demo", "--into-current"]) == 0
        assert "已有计划" in capsys.readouterr().out
    finally:
        set_clock(previous)
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(Plan)).one() == 1
