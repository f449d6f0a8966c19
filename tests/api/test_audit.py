from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from duban import cli, db
from duban.db import make_engine
from duban.settings import get_settings
from duban.uow import unit_of_work
from tests.api.conftest import AsRole


def test_audit_list_filters_and_pages(client: TestClient, as_role: AsRole) -> None:
    office = as_role("office")
    ids = []
    for name in ("审计一", "审计二", "审计三"):
        ids.append(client.post("/api/v1/plans", json={"title": name}, headers=office).json()["id"])
    client.patch(f"/api/v1/plans/{ids[0]}", json={"title": "审计一（改）"}, headers=office)

    viewer = as_role("viewer")
    r = client.get("/api/v1/audit", params={"entity_type": "plan"}, headers=viewer)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["action"] for i in items] == ["plan.update", "plan.create", "plan.create", "plan.create"]
    assert items[0]["before"]["title"] == "审计一" and items[0]["after"]["title"] == "审计一（改）"

    one = client.get(
        "/api/v1/audit", params={"entity_type": "plan", "entity_id": str(ids[0])}, headers=viewer
    )
    assert [i["action"] for i in one.json()["items"]] == ["plan.update", "plan.create"]
    prefix = client.get("/api/v1/audit", params={"action": "plan.", "limit": 2}, headers=viewer).json()
    assert len(prefix["items"]) == 2 and prefix["next_cursor"]
    rest = client.get(
        "/api/v1/audit",
        params={"action": "plan.", "limit": 2, "cursor": prefix["next_cursor"]},
        headers=viewer,
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert {i["id"] for i in prefix["items"]}.isdisjoint({i["id"] for i in rest["items"]})

    future = client.get("/api/v1/audit", params={"since": "2030-01-01T00:00:00Z"}, headers=viewer).json()
    assert future["items"] == []
    past = client.get("/api/v1/audit", params={"until": "2000-01-01T00:00:00+08:00"}, headers=viewer).json()
    assert past["items"] == []
    actor = items[0]["actor_id"]
    assert len(client.get("/api/v1/audit", params={"actor_id": actor}, headers=viewer).json()["items"]) == 4


def test_audit_is_not_for_units_or_leaders(client: TestClient, as_role: AsRole) -> None:
    for role in ("unit_head", "unit_staff", "leader"):
        assert client.get("/api/v1/audit", headers=as_role(role)).status_code == 403
    assert client.get("/api/v1/audit", headers=as_role("admin")).status_code == 200
    bad = client.get("/api/v1/audit", params={"cursor": "!!"}, headers=as_role("admin"))
    assert bad.status_code == 422


@pytest.fixture
def idle_template(pg_shared_engine: Engine | None) -> None:
    # CREATE DATABASE … TEMPLATE refuses while the shared engine keeps a pooled connection to it.
    if pg_shared_engine is not None:
        pg_shared_engine.dispose()


@pytest.fixture
def cli_database(idle_template: None, committed_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DUBAN_DATABASE_URL", committed_url)
    get_settings.cache_clear()
    db.set_engine(None)
    yield committed_url
    engine = db.get_engine()
    engine.dispose()
    db.set_engine(None)
    monkeypatch.undo()
    get_settings.cache_clear()


def test_audit_verify_names_the_edited_entry(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(cli_database)
    now = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)
    with Session(engine) as session:
        for i in range(3):
            with unit_of_work(session, actor=None, now=now) as uow:
                uow.record(action="test.write", entity_type="plan", entity_id=1, after={"n": i})
        ids = [r[0] for r in session.execute(text("SELECT id FROM audit_entry ORDER BY id"))]

    assert cli.main(["audit", "verify"]) == 0
    assert "intact: 3 entries" in capsys.readouterr().out

    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET action = 'test.tampered' WHERE id = :id"), {"id": ids[1]})
    engine.dispose()

    assert cli.main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at entry {ids[1]}" in out and "content does not match" in out
