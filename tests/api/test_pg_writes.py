"""The lean writes as they run in production (api.pgwrite): against a committed database, no shared
test session, so that on PostgreSQL 签收 and a new report are two statements each on the async
pool's connections in autocommit (or, hotpath.THREADED, on the sync pool's), and on SQLite the unit
of work's path. Their answers are the reads' answers, the audit chain verifies, the events are
in the outbox, a stale version writes nothing, and a refused principal is seen at its next write.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api import hotpath, pgwrite
from api.assignment.service import ASSIGNMENT
from duban import audit, calendar_store, db, events
from duban.clock import FixedClock
from duban.models import Assignment, AuditEntry, OutboxEvent, User
from duban.uow import update_sql, write_statement
from tests.api.conftest import auth_headers, shared_app
from tests.factories import make_assignment, make_plan, make_task, make_unit, make_user

API = "/api/v1"


@dataclass
class Served:
    client: TestClient
    engine: Engine
    clock: FixedClock
    backend: str


@pytest.fixture(params=[True, False], ids=["threaded", "async-driver"])
def served(
    request: pytest.FixtureRequest, committed_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    threaded: bool = request.param
    if not threaded and committed_url.startswith("sqlite"):
        pytest.skip("SQLite takes the unit of work's path")
    monkeypatch.setattr(hotpath, "THREADED", threaded)
    engine = db.make_engine(committed_url)
    db.set_engine(engine)
    app = shared_app()
    app.dependency_overrides.clear()
    saved = getattr(app.state, "session_factory", None)
    app.state.session_factory = None  # every request on its own connection, as in production
    app.state.clock = clock
    hotpath.forget_principals()
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Served(client, engine, clock, engine.dialect.name)
            client.portal.call(hotpath.close_pools)
    finally:
        app.state.session_factory = saved
        hotpath.forget_principals()
        db.set_engine(None)
        engine.dispose()


@dataclass
class World:
    head: User
    staff: User
    ids: list[int]


@pytest.fixture
def world(served: Served) -> World:
    with Session(served.engine, expire_on_commit=False) as s:
        unit = make_unit(s, name="县科技局")
        plan = make_plan(s, title="涟水县科技创新行动计划", doc_no="涟政办发〔2024〕7号")
        ids = [make_assignment(s, task=make_task(s, plan=plan, code=str(i)), unit=unit).id for i in range(4)]
        head = make_user(s, roles=["unit_head"], unit_id=unit.id)
        staff = make_user(s, roles=["unit_staff"], unit_id=unit.id)
        s.commit()
    return World(head, staff, ids)


def test_the_writes_answer_what_the_reads_answer_in_two_statements(
    served: Served, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, h = served.client, auth_headers(world.head, served.clock)
    aid = world.ids[0]
    # The calendar's stamp is checked at most every few seconds: not in these requests.
    monkeypatch.setattr(calendar_store, "check_seconds", 3600.0)
    calendar_store.invalidate()
    assert c.get(f"{API}/assignments/{aid}", headers=h).status_code == 200  # the principal cached
    before = pgwrite.statements_run
    r = c.post(f"{API}/assignments/{aid}/accept", headers=h)
    assert r.status_code == 200, r.text
    accepted = pgwrite.statements_run - before
    detail = c.get(f"{API}/assignments/{aid}", headers=h)
    assert r.content == detail.content
    assert r.headers["etag"] == detail.headers["etag"] == f'W/"assignment-{aid}-2"'
    assert [e["to_state"] for e in r.json()["history"]] == ["accepted"]

    before = pgwrite.statements_run
    body = {"text": "按计划推进", "percent_done": 30, "submit": True}
    rep = c.post(f"{API}/assignments/{aid}/reports", json=body, headers=h)
    assert rep.status_code == 201, rep.text
    reported = pgwrite.statements_run - before
    read = c.get(f"{API}/reports/{rep.json()['id']}", headers=h)
    assert read.status_code == 200 and rep.json() == read.json()
    assert rep.headers["etag"] == read.headers["etag"]
    if served.backend == "postgresql":
        assert (accepted, reported) == (2, 2)  # the read (row, principal, history / id), the write
    else:
        assert (accepted, reported) == (0, 0)

    # The period's one report: the duplicate names it, before a refusal for another reason.
    again = c.post(f"{API}/assignments/{aid}/reports", json=body, headers=h)
    assert again.status_code == 409 and again.json()["error"]["details"]["report_id"] == rep.json()["id"]
    empty = c.post(f"{API}/assignments/{aid}/reports", json={"text": " ", "submit": True}, headers=h)
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "report.duplicate_period"
    other = world.ids[1]
    assert c.post(f"{API}/assignments/{other}/accept", headers=h).status_code == 200
    empty = c.post(f"{API}/assignments/{other}/reports", json={"text": " ", "submit": True}, headers=h)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "report.text_required"
    # Refusals: another accept is an illegal move, a stale If-Match 412, staff may not 签收.
    assert c.post(f"{API}/assignments/{aid}/accept", headers=h).status_code == 409
    stale = c.post(f"{API}/assignments/{world.ids[2]}/accept", headers={**h, "If-Match": 'W/"x"'})
    assert stale.status_code == 412
    staff = c.post(
        f"{API}/assignments/{world.ids[2]}/accept", headers=auth_headers(world.staff, served.clock)
    )
    assert staff.status_code == 403

    with Session(served.engine) as s:
        assert audit.verify(s).broken_id is None
        kinds = s.exec(select(OutboxEvent.type).where(OutboxEvent.assignment_id == aid)).all()
        assert sorted(kinds) == ["assignment.accepted", "report.submitted"]
        for payload in s.exec(select(OutboxEvent.payload)).all():
            events.validate(dict(payload))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE user_account SET token_generation = token_generation + 1 WHERE id = :id",
        "UPDATE user_account SET is_active = false WHERE id = :id",
    ],
)
def test_a_refused_principal_is_seen_at_its_next_write(served: Served, world: World, sql: str) -> None:
    c, h = served.client, auth_headers(world.head, served.clock)
    assert c.post(f"{API}/assignments/{world.ids[0]}/accept", headers=h).status_code == 200  # cached
    with served.engine.begin() as conn:
        conn.execute(text(sql), {"id": world.head.id})
    r = c.post(f"{API}/assignments/{world.ids[1]}/accept", headers=h)
    assert r.status_code == 401, r.text
    r = c.post(f"{API}/assignments/{world.ids[0]}/reports", json={"text": "x"}, headers=h)
    assert r.status_code == 401, r.text
    with Session(served.engine) as s:
        assert s.get(Assignment, world.ids[1]).state == "assigned"  # type: ignore[union-attr]


def test_a_stale_version_writes_nothing(served: Served, world: World) -> None:
    if served.backend != "postgresql":
        pytest.skip("the one-statement write is PostgreSQL's")
    aid = world.ids[3]
    keys = ("state", "updated_at", "version")
    fairy = served.engine.raw_connection()
    try:
        raw = fairy.driver_connection
        raw.autocommit = True  # type: ignore[union-attr]
        now = served.clock.now()
        entry = audit.Pending(action="assignment.accept", entity_type="assignment", entity_id=str(aid))
        entries = audit.linked(
            None, actor=None, entries=[entry], now=now, tails={("assignment", str(aid)): audit.GENESIS}
        )
        params = {"v_state": "accepted", "v_updated_at": now, "v_version": 3, "w_id": aid, "w_version": 2}
        steps = write_statement(
            served.engine.dialect,
            ("test", keys),
            lambda: update_sql(ASSIGNMENT, "version", keys, served.engine.dialect),
            params,
            events=[],
            entries=entries,
            entity="assignment",
        )
        written = pgwrite.drive(steps, raw)  # type: ignore[arg-type]
        raw.autocommit = False  # type: ignore[union-attr]
    finally:
        fairy.close()
    assert written.row_id is None and written.audit_ids == []
    with Session(served.engine) as s:
        assert s.get(Assignment, aid).version == 1  # type: ignore[union-attr]
        stored = s.exec(select(col(AuditEntry.id)).where(AuditEntry.entity_id == str(aid))).all()
        assert stored == []
