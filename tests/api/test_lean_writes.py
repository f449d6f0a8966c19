"""The lean writes (api.writepath): 签收, a report created (and submitted) and a task created (and
assigned) on SQLAlchemy Core through the unit of work. They answer what the reads of the same
resources answer, write the same audit entries as the ORM path, keep the version check and the
chain, and check the cached principal against its stored row at every write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.assignment import service as assignment_service
from duban import audit
from duban.clock import FixedClock
from duban.errors import Conflict
from duban.models import Assignment, AssignmentState, AuditEntry, OutboxEvent, Plan, Unit
from duban.uow import unit_of_work
from tests.api.conftest import AsRole, auth_headers
from tests.factories import make_assignment, make_plan, make_unit, make_user

API = "/api/v1"


@dataclass
class World:
    plan: Plan
    unit: Unit
    office: dict[str, str]
    head: dict[str, str]


@pytest.fixture
def world(session: Session, as_role: AsRole) -> World:
    plan = make_plan(session, title="涟水县科技创新行动计划", doc_no="涟政办发〔2024〕7号")
    unit = make_unit(session, name="县科技局")
    session.commit()
    return World(plan, unit, as_role("office"), as_role("unit_head", unit=unit))


def _create(client: TestClient, w: World, code: str, **extra: Any) -> Any:
    body = {
        "plan_id": w.plan.id,
        "code": code,
        "title": "强化高科技项目招引",
        "due_date": "2025-12-31",
        "units": [{"role": "lead", "unit_id": w.unit.id}],
        **extra,
    }
    return client.post(f"{API}/tasks", json=body, headers=w.office)


def _assignment_of(session: Session, task_id: int) -> int:
    aid = session.exec(select(Assignment.id).where(Assignment.task_id == task_id)).one()
    assert aid is not None
    return aid


def test_create_and_assign_answers_what_the_task_reads(
    client: TestClient, session: Session, world: World
) -> None:
    r = _create(client, world, "1", assign=True, tags=["科技"])
    assert r.status_code == 201, r.text
    body = r.json()
    again = client.get(f"{API}/tasks/{body['id']}", headers=world.office)
    assert body == again.json() and r.headers["etag"] == again.headers["etag"]
    assert body["status"]["by_state"]["assigned"] == 1 and body["units"][0]["unit_name"] == "县科技局"
    aid = _assignment_of(session, body["id"])
    event = session.exec(select(OutboxEvent).where(OutboxEvent.assignment_id == aid)).one()
    assert event.type == "assignment.assigned"
    assert event.payload["data"]["plan"] == {
        "id": world.plan.id,
        "name": "涟水县科技创新行动计划",
        "code": "涟政办发〔2024〕7号",
    }
    assert event.payload["data"]["publication"] is False
    actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))).all()
    assert actions[-2:] == ["task.create", "assignment.assign"]


def test_create_keeps_the_checks(client: TestClient, world: World, session: Session) -> None:
    assert _create(client, world, "1").status_code == 201
    duplicate = _create(client, world, "1")
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "task.duplicate"
    unknown = client.post(
        f"{API}/tasks",
        json={
            "plan_id": world.plan.id,
            "code": "2",
            "title": "x",
            "units": [{"role": "lead", "unit_id": 999999}],
        },
        headers=world.office,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "task.unknown_units"
    draft = make_plan(session, state="draft")
    session.commit()
    r = client.post(
        f"{API}/tasks",
        json={
            "plan_id": draft.id,
            "code": "1",
            "title": "x",
            "units": [{"role": "lead", "unit_id": world.unit.id}],
            "assign": True,
        },
        headers=world.office,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "plan.draft"
    assert session.exec(select(sa.func.count()).select_from(Assignment)).one() == 0
    refused = client.post(
        f"{API}/tasks", json={"plan_id": world.plan.id, "code": "3", "title": "x"}, headers=world.head
    )
    assert refused.status_code == 403


def test_accept_answers_the_detail_and_checks_the_version(
    client: TestClient, session: Session, world: World, as_role: AsRole
) -> None:
    task = _create(client, world, "1", assign=True).json()
    aid = _assignment_of(session, task["id"])
    stale = client.post(
        f"{API}/assignments/{aid}/accept", headers={**world.head, "If-Match": 'W/"assignment-1-9"'}
    )
    assert stale.status_code == 412
    r = client.post(f"{API}/assignments/{aid}/accept", headers=world.head)
    assert r.status_code == 200, r.text
    detail = client.get(f"{API}/assignments/{aid}", headers=world.head)
    assert r.json() == detail.json() and r.headers["etag"] == detail.headers["etag"]
    assert [h["to_state"] for h in r.json()["history"]] == ["assigned", "accepted"]
    again = client.post(f"{API}/assignments/{aid}/accept", headers=world.head)
    assert again.status_code == 409 and again.json()["error"]["code"] == "assignment.illegal_transition"
    foreign = client.post(f"{API}/assignments/{aid}/accept", headers=as_role("unit_head"))
    assert foreign.status_code == 404  # another unit's assignment is simply not there


def test_a_report_created_submitted_answers_what_it_reads(
    client: TestClient, session: Session, world: World
) -> None:
    task = _create(client, world, "1", assign=True).json()
    aid = _assignment_of(session, task["id"])
    early = client.post(
        f"{API}/assignments/{aid}/reports", json={"text": "进展", "submit": True}, headers=world.head
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "report.assignment_not_reportable"
    assert client.post(f"{API}/assignments/{aid}/accept", headers=world.head).status_code == 200
    r = client.post(
        f"{API}/assignments/{aid}/reports",
        json={"text": "按计划推进", "percent_done": 30, "submit": True},
        headers=world.head,
    )
    assert r.status_code == 201, r.text
    read = client.get(f"{API}/reports/{r.json()['id']}", headers=world.head)
    assert r.json() == read.json() and r.headers["etag"] == read.headers["etag"]
    assert r.json()["state"] == "submitted"
    types = session.exec(
        select(OutboxEvent.type).where(OutboxEvent.assignment_id == aid).order_by(col(OutboxEvent.id))
    ).all()
    assert types == ["assignment.assigned", "assignment.accepted", "report.submitted"]
    twice = client.post(f"{API}/assignments/{aid}/reports", json={"text": "再报"}, headers=world.head)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "report.duplicate_period"


def test_the_chain_verifies_after_lean_writes(client: TestClient, session: Session, world: World) -> None:
    for code in ("1", "2"):
        task = _create(client, world, code, assign=True).json()
        aid = _assignment_of(session, task["id"])
        assert client.post(f"{API}/assignments/{aid}/accept", headers=world.head).status_code == 200
        assert (
            client.post(
                f"{API}/assignments/{aid}/reports", json={"text": "进展", "submit": True}, headers=world.head
            ).status_code
            == 201
        )
    result = audit.verify(session)
    assert result.broken_id is None and result.checked >= 8


def test_a_changed_principal_is_seen_at_the_next_write(
    client: TestClient, session: Session, world: World, clock: FixedClock
) -> None:
    head = make_user(session, roles=["unit_head"], unit_id=world.unit.id)
    session.commit()
    headers = auth_headers(head, clock)
    task = _create(client, world, "1", assign=True).json()
    aid = _assignment_of(session, task["id"])
    # Cached by a first request (refused by state, not by identity).
    assert (
        client.post(f"{API}/assignments/{aid}/reports", json={"text": "x"}, headers=headers).status_code
        == 409
    )
    head.roles = ["unit_staff"]  # a role taken away: the row changes
    session.add(head)
    session.commit()
    r = client.post(f"{API}/assignments/{aid}/accept", headers=headers)
    assert r.status_code == 403
    head.token_generation += 1  # signed out everywhere
    session.add(head)
    session.commit()
    r = client.post(f"{API}/assignments/{aid}/reports", json={"text": "x"}, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.token_revoked"


def test_update_row_checks_the_version_and_audits_as_the_orm_does(
    session: Session, clock: FixedClock
) -> None:
    a = make_assignment(session)
    actor = make_user(session, roles=["office"])
    session.commit()
    table = Assignment.__table__  # type: ignore[attr-defined]
    row = dict(session.connection().execute(sa.select(table).where(table.c.id == a.id)).mappings().one())
    session.expire_all()  # the ORM's copy as stored
    assert audit.snapshot_row(row) == audit.snapshot(session.get(Assignment, a.id))
    with unit_of_work(session, actor=actor, now=clock.now()) as uow:
        after = uow.update_row(table, row, {"state": AssignmentState.accepted}, action="assignment.accept")
    assert after["version"] == row["version"] + 1
    session.expire_all()
    stored = session.get(Assignment, a.id)
    assert stored is not None and stored.state == "accepted" and stored.version == after["version"]
    entry = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1)).one()
    assert (
        entry.after == audit.snapshot(stored)
        and entry.before is not None
        and entry.before["state"] == "assigned"
    )
    with pytest.raises(Conflict) as lost:  # a writer holding the copy before that change
        with unit_of_work(session, actor=actor, now=clock.now()) as uow:
            uow.update_row(table, row, {"state": AssignmentState.returned}, action="assignment.return")
    assert lost.value.code == "assignment.concurrent_update"
    assert assignment_service.get_visible(session, user=actor, assignment_id=a.id or 0).state == "accepted"


def test_a_cached_principal_is_checked_in_the_first_statement(
    client: TestClient, session: Session, world: World, as_role: AsRole
) -> None:
    task = _create(client, world, "1", assign=True).json()
    aid = _assignment_of(session, task["id"])
    stranger = as_role("unit_head")
    for _ in range(2):  # the second one on the cached principal: still simply not found
        r = client.post(f"{API}/assignments/{aid}/accept", headers=stranger)
        assert r.status_code == 404 and r.json()["error"]["code"] == "assignment.not_found"
    assert (
        client.post(f"{API}/assignments/{aid}/reports", json={"text": "x"}, headers=world.head).status_code
        == 409
    )
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    engine = session.get_bind().engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        r = client.post(f"{API}/assignments/{aid}/accept", headers=world.head)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert r.status_code == 200, r.text
    assert not any(s.startswith("SELECT user_account") for s in statements)  # no look-up of its own
    first = next(s for s in statements if s.startswith("SELECT"))
    assert "EXISTS" in first and "user_account AS me" in first


def test_the_lean_writes_are_dispatched_directly_with_the_routers_answers(
    client: TestClient, session: Session, world: World, as_role: AsRole
) -> None:
    """api.direct.DirectWrites answers the three lean writes before the router, after the body
    limit, the text check and idempotency; every answer that leaves nothing behind (a refusal) is
    the router's byte for byte, and the writes themselves answer as the router's did."""
    from api import direct
    from api.deps import settings_dep
    from duban.settings import get_settings

    app: Any = client.app
    task = _create(client, world, "1", assign=True).json()
    aid = _assignment_of(session, task["id"])
    other = _create(client, world, "2", assign=True).json()
    other_aid = _assignment_of(session, other["id"])
    office, head, stranger = world.office, world.head, as_role("unit_head")
    big = "进" * (get_settings().max_body_bytes // 3 + 10)
    report = {"text": "按计划推进", "percent_done": 30, "submit": True}
    unit_task = {
        "plan_id": world.plan.id,
        "title": "x",
        "units": [{"role": "lead", "unit_id": world.unit.id}],
    }
    # (path, headers, JSON body or raw bytes, dispatched directly)
    cases: list[tuple[str, dict[str, str], Any, bool]] = [
        (f"{API}/assignments/{aid}/reports", head, report, True),  # 409: not accepted yet
        (f"{API}/assignments/{aid}/accept", stranger, {}, True),  # another unit's: 404
        (f"{API}/assignments/987654321/accept", head, {}, True),
        (f"{API}/assignments/{aid}/accept", office, {}, True),  # 403: not a unit head
        (f"{API}/assignments/{aid}/accept", {}, {}, True),  # 401
        (f"{API}/assignments/{aid}/accept", {"Authorization": "Bearer nonsense"}, {}, True),
        (f"{API}/assignments/{aid}/accept", {}, {"reason": 5}, True),  # 401 before the body
        (f"{API}/assignments/{aid}/accept", head, {"reason": 5}, True),  # 422 from the model
        (f"{API}/assignments/{aid}/accept", head, {"reason": "x" * 2001}, True),
        (f"{API}/assignments/{aid}/accept", head, [1, 2], True),
        (f"{API}/assignments/{aid}/accept", {**head, "If-Match": 'W/"assignment-1-9"'}, {}, True),  # 412
        (f"{API}/assignments/{aid}/reports", head, {"percent_done": 101, "period": "x" * 11}, True),
        (f"{API}/assignments/{aid}/reports", head, {"text": 5}, True),
        (f"{API}/tasks", office, {"plan_id": world.plan.id, "code": "9"}, True),  # 422: no title
        (f"{API}/tasks", head, {"plan_id": world.plan.id, "code": "9", "title": "x"}, True),  # 403
        (f"{API}/tasks", office, {**unit_task, "code": "1"}, True),  # 409: the code is taken
        (f"{API}/assignments/{aid}/accept", head, b"{", False),  # FastAPI's JSON error
        (f"{API}/assignments/{aid}/reports", head, b"null", False),  # FastAPI's "missing"
        (f"{API}/assignments/{aid}/reports", head, b"", False),
        (f"{API}/assignments/{aid}/accept", head, {"reason": "a\u0000b"}, False),  # the text check's 422
        (f"{API}/assignments/{aid}/accept", head, {"reason": big}, False),  # 413
        (f"{API}/assignments/abc/accept", head, {}, False),  # the router's 422
    ]

    def answer(path: str, h: dict[str, str], body: Any) -> tuple[int, bytes, dict[str, str]]:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        r = client.post(path, content=raw, headers={**h, "Content-Type": "application/json"})
        kept = {k: v for k, v in r.headers.items() if k != "x-request-id"}
        return r.status_code, r.content, kept

    mine = []
    for path, h, body, dispatched in cases:
        before = direct.served
        mine.append(answer(path, h, body))
        assert direct.served == before + int(dispatched), path
    statuses = [m[0] for m in mine]
    assert statuses[:16] == [409, 404, 404, 403, 401, 401, 401, 422, 422, 422, 412, 422, 422, 422, 403, 409]
    assert statuses[16:] == [422, 422, 422, 422, 413, 422], statuses
    # An overridden dependency (as tests do) sends every request through the router.
    app.dependency_overrides[settings_dep] = settings_dep
    try:
        before = direct.served
        routed = [answer(path, h, body) for path, h, body, _ in cases]
        assert direct.served == before
    finally:
        app.dependency_overrides.clear()
    for (path, _, body, _), a, b in zip(cases, mine, routed, strict=True):
        assert a == b, (path, body)

    # The writes: 签收 and a report directly, the same on the other assignment through the router.
    before = direct.served
    accepted = answer(f"{API}/assignments/{aid}/accept", head, {})
    reported = answer(f"{API}/assignments/{aid}/reports", head, report)
    assert direct.served == before + 2
    app.dependency_overrides[settings_dep] = settings_dep
    try:
        accepted_routed = answer(f"{API}/assignments/{other_aid}/accept", head, {})
        reported_routed = answer(f"{API}/assignments/{other_aid}/reports", head, report)
    finally:
        app.dependency_overrides.clear()
    for (status, raw, headers), (status2, raw2, headers2) in (
        (accepted, accepted_routed),
        (reported, reported_routed),
    ):
        assert (status, set(headers)) == (status2, set(headers2)) and status in (200, 201)
        a, b = orjson.loads(raw), orjson.loads(raw2)
        assert set(a) == set(b)
    assert orjson.loads(accepted[1]) == client.get(f"{API}/assignments/{aid}", headers=head).json()
    assert orjson.loads(reported[1])["state"] == "submitted"
    # The same write again: the state machine's 409, directly and through the router alike.
    again = answer(f"{API}/assignments/{aid}/accept", head, {})
    app.dependency_overrides[settings_dep] = settings_dep
    try:
        assert answer(f"{API}/assignments/{aid}/accept", head, {}) == again
    finally:
        app.dependency_overrides.clear()
    assert again[0] == 409


def test_a_direct_write_keeps_its_idempotency_key(client: TestClient, session: Session, world: World) -> None:
    from api import direct

    task = _create(client, world, "1", assign=True).json()
    aid = _assignment_of(session, task["id"])
    h = {**world.head, "Idempotency-Key": "accept-once"}
    before = direct.served
    first = client.post(f"{API}/assignments/{aid}/accept", json={}, headers=h)
    second = client.post(f"{API}/assignments/{aid}/accept", json={}, headers=h)
    assert direct.served == before + 1  # the replay comes from the idempotency store
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second.headers["idempotent-replayed"] == "true"
    reused = client.post(f"{API}/assignments/{aid}/accept", json={"reason": "x"}, headers=h)
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency.key_reused"
