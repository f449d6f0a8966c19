"""The lean writes as they run in production (api.pgwrite): against a committed database, no shared
test session, so that on PostgreSQL 签收 and a new report are two statements each on the async
pool's connections in autocommit (or, hotpath.THREADED, on the sync pool's), and on SQLite the unit
of work's path. Their answers are the reads' answers, the audit chain verifies, the events are
in the outbox, a stale version writes nothing, and a refused principal is seen at its next write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from api import pgwrite
from api.assignment.service import ASSIGNMENT
from duban import audit, calendar_store, events
from duban.models import Assignment, AuditEntry, OutboxEvent, User
from duban.uow import update_sql, write_statement
from tests.api.conftest import Served, auth_headers
from tests.factories import make_assignment, make_plan, make_section, make_task, make_unit, make_user

API = "/api/v1"


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


def test_a_task_created_assigned_answers_what_it_reads_in_two_statements(
    served: Served, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duban.models import Task

    with Session(served.engine, expire_on_commit=False) as s:
        office = make_user(s, roles=["office"])
        unit = make_unit(s, name="县发改委")
        plan = make_plan(s, title="涟水县重点项目推进计划", doc_no="涟政办发〔2024〕9号")
        draft = make_plan(s, state="draft")
        section = make_section(s, plan=plan)
        s.commit()
    c, h = served.client, auth_headers(office, served.clock)
    monkeypatch.setattr(calendar_store, "check_seconds", 3600.0)
    calendar_store.invalidate()
    assert c.get(f"{API}/plans/{plan.id}", headers=h).status_code == 200  # the principal cached
    units = [{"role": "lead", "unit_id": unit.id}, {"role": "co", "unit_id": world.head.unit_id}]
    body = {"plan_id": plan.id, "section_id": section.id, "code": "1", "title": "推进", "units": units}
    before = pgwrite.statements_run
    r = c.post(f"{API}/tasks", json={**body, "assign": True, "tags": ["项目"]}, headers=h)
    assert r.status_code == 201, r.text
    statements = pgwrite.statements_run - before
    read = c.get(f"{API}/tasks/{r.json()['id']}", headers=h)
    assert r.json() == read.json() and r.headers["etag"] == read.headers["etag"]
    assert r.json()["status"]["by_state"]["assigned"] == 2
    # A recurring task's periods are known once the plan is read: their ids in a statement more.
    before = pgwrite.statements_run
    monthly = c.post(
        f"{API}/tasks", json={**body, "code": "2", "recurrence": "monthly", "assign": True}, headers=h
    )
    assert monthly.status_code == 201, monthly.text
    recurring = pgwrite.statements_run - before
    assert monthly.json() == c.get(f"{API}/tasks/{monthly.json()['id']}", headers=h).json()
    plain = c.post(f"{API}/tasks", json={**body, "code": "3"}, headers=h)
    assert (
        plain.status_code == 201
        and plain.json() == c.get(f"{API}/tasks/{plain.json()['id']}", headers=h).json()
    )
    if served.backend == "postgresql":
        assert (statements, recurring) == (2, 3)
    else:
        assert (statements, recurring) == (0, 0)

    def refused(payload: dict[str, Any]) -> tuple[int, str]:
        answer = c.post(f"{API}/tasks", json=payload, headers=h)
        return answer.status_code, answer.json()["error"]["code"]

    assert refused({**body, "assign": True}) == (409, "task.duplicate")
    assert refused({**body, "plan_id": 999999}) == (422, "task.unknown_plan")
    assert refused({**body, "code": "4", "section_id": 999999}) == (422, "task.invalid_section")
    assert refused({**body, "code": "4", "units": [{"role": "lead", "unit_id": 999999}]}) == (
        422,
        "task.unknown_units",
    )
    assert refused({**body, "code": "4", "units": [], "assign": True}) == (422, "assignment.no_units")
    on_draft = {**body, "plan_id": draft.id, "section_id": None, "assign": True}
    assert refused(on_draft) == (409, "plan.draft")
    with Session(served.engine) as s:
        s.add(Task(plan_id=draft.id or 0, code="5", title="x", position=1))
        s.commit()
    # The taken code is the answer, as the unit of work's INSERT met it before the plan's state.
    assert refused({**on_draft, "code": "5"}) == (409, "task.duplicate")

    with Session(served.engine) as s:
        assert audit.verify(s).broken_id is None
        ids = [r.json()["id"], monthly.json()["id"], plain.json()["id"]]
        made = s.exec(select(Assignment).where(col(Assignment.task_id).in_(ids))).all()
        assert len(made) == 2 + 2 * 24
        kinds = s.exec(
            select(OutboxEvent.type).where(col(OutboxEvent.assignment_id).in_([a.id for a in made]))
        ).all()
        assert kinds == ["assignment.assigned"] * len(made)
        for payload in s.exec(select(OutboxEvent.payload)).all():
            events.validate(dict(payload))
        actions = s.exec(
            select(AuditEntry.action).where(AuditEntry.entity_type == "task").order_by(col(AuditEntry.id))
        ).all()
        assert actions == ["task.create"] * 3
