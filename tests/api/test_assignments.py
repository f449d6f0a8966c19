from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.assignment.service import ACTIONS, allowed_actions
from duban.clock import FixedClock
from duban.models import Assignment, AssignmentState, OutboxEvent, Task, Unit
from tests.api.conftest import AsRole
from tests.factories import (
    make_assignment,
    make_group,
    make_plan,
    make_report,
    make_task,
    make_task_unit,
    make_unit,
)

API = "/api/v1"


@dataclass
class World:
    task_id: int
    plan_id: int
    a: Unit
    b: Unit
    office: dict[str, str]
    head_a: dict[str, str]
    head_b: dict[str, str]


@pytest.fixture
def world(session: Session, as_role: AsRole) -> World:
    plan = make_plan(session, title="涟水县科技创新行动计划")
    task = make_task(session, plan=plan, title="强化高科技项目招引", code="1")
    a = make_unit(session, name="县科技局")
    b = make_unit(session, name="县招商办")
    make_task_unit(session, task=task, unit=a, role="lead")
    make_task_unit(session, task=task, unit=b, role="co")
    session.commit()
    return World(
        task.id or 0,
        plan.id or 0,
        a,
        b,
        as_role("office"),
        as_role("unit_head", unit=a),
        as_role("unit_head", unit=b),
    )


def assign(
    client: TestClient, w: World, body: dict[str, Any] | None = None, task_id: int | None = None
) -> list[dict[str, Any]]:
    r = client.post(f"{API}/tasks/{task_id or w.task_id}/assignments", json=body or {}, headers=w.office)
    assert r.status_code == 201, r.text
    created: list[dict[str, Any]] = r.json()["created"]
    return created


def of_unit(items: list[dict[str, Any]], unit: Unit) -> dict[str, Any]:
    return next(i for i in items if i["unit_id"] == unit.id)


def outbox_types(session: Session, assignment_id: int) -> list[str]:
    return list(
        session.exec(
            select(OutboxEvent.type)
            .where(OutboxEvent.assignment_id == assignment_id)
            .order_by(col(OutboxEvent.id))
        ).all()
    )


def act(client: TestClient, aid: int, action: str, headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"{API}/assignments/{aid}/{action}", json=body or None, headers=headers)


def test_assign_accept_request_completion_approve(client: TestClient, world: World, session: Session) -> None:
    w = world
    created = assign(client, w)
    assert sorted((c["unit_name"], c["role"]) for c in created) == [("县招商办", "co"), ("县科技局", "lead")]
    mine = of_unit(created, w.a)
    aid = mine["id"]
    assert mine["state"] == "assigned" and mine["due_date"] == "2025-12-31"
    assert mine["due_at"] == "2025-12-31T16:00:00+00:00" and mine["original_due_date"] == "2025-12-31"
    assert outbox_types(session, aid) == ["assignment.assigned"]
    payload = session.exec(select(OutboxEvent.payload).where(OutboxEvent.assignment_id == aid)).one()["data"]
    assert (
        payload["plan"]["name"] == "涟水县科技创新行动计划"
        and payload["task"]["name"] == "强化高科技项目招引"
    )
    assert payload["unit"]["name"] == "县科技局" and payload["due_date"] == "2025-12-31"

    detail = client.get(f"{API}/assignments/{aid}", headers=w.head_a)
    assert detail.json()["allowed_actions"] == ["accept", "return"]
    etag = detail.headers["etag"]
    r = client.post(f"{API}/assignments/{aid}/accept", headers={**w.head_a, "If-Match": etag})
    assert r.status_code == 200 and r.json()["state"] == "accepted" and r.json()["version"] == 2
    assert r.headers["etag"] == f'W/"assignment-{aid}-2"'
    stale = client.post(f"{API}/assignments/{aid}/request-completion", headers={**w.head_a, "If-Match": etag})
    assert stale.status_code == 412
    r = client.post(
        f"{API}/assignments/{aid}/request-completion", headers={**w.head_a, "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 200 and r.json()["state"] == "completion_requested"
    assert act(client, aid, "approve", w.head_a).status_code == 403
    r = act(client, aid, "approve", w.office)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "completed" and body["percent_done"] == 100 and body["completed_at"]
    assert [h["to_state"] for h in body["history"]] == [
        "assigned",
        "accepted",
        "completion_requested",
        "completed",
    ]
    assert outbox_types(session, aid) == [
        "assignment.assigned",
        "assignment.accepted",
        "completion.requested",
        "assignment.completed",
    ]
    assert (
        client.get(f"{API}/assignments/{aid}/history", headers=w.office).json()[-1]["action"]
        == "assignment.approve"
    )


def test_return_needs_a_reason_then_office_reassigns(
    client: TestClient, world: World, session: Session, as_role: AsRole
) -> None:
    w = world
    aid = of_unit(assign(client, w), w.a)["id"]
    r = act(client, aid, "return", w.head_a)
    assert r.status_code == 422
    r = act(client, aid, "return", w.head_a, reason="   ")
    assert r.status_code == 422 and r.json()["error"]["code"] == "assignment.reason_required"
    r = act(client, aid, "return", w.head_a, reason="不属于本单位职责")
    assert (
        r.status_code == 200
        and r.json()["state"] == "returned"
        and r.json()["last_reason"] == "不属于本单位职责"
    )
    assert r.json()["history"][-1]["reason"] == "不属于本单位职责"
    assert act(client, aid, "reassign", w.head_a).status_code == 403

    # The office insists: back to the same unit.
    r = act(client, aid, "reassign", w.office, reason="请按方案落实")
    assert r.status_code == 200 and r.json()["state"] == "assigned" and r.json()["id"] == aid
    assert outbox_types(session, aid)[-2:] == ["assignment.returned", "assignment.assigned"]

    # Returned again, and given to another unit: the returned one is cancelled.
    act(client, aid, "return", w.head_a, reason="仍不属于本单位职责")
    c = make_unit(session, name="县发改委")
    session.commit()
    r = act(client, aid, "reassign", w.office, unit_id=c.id, due_date="2025-11-30")
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["id"] != aid and fresh["unit_id"] == c.id and fresh["state"] == "assigned"
    assert (
        fresh["role"] == "lead"
        and fresh["original_due_date"] == "2025-11-30"
        and fresh["due_date"] == "2025-12-01"
    )
    old = client.get(f"{API}/assignments/{aid}", headers=w.office).json()
    assert old["state"] == "cancelled" and old["cancelled_at"]
    assert outbox_types(session, aid)[-1] == "assignment.cancelled"
    assert outbox_types(session, fresh["id"]) == ["assignment.assigned"]
    # Reassigning to a unit that already holds the task is a conflict, not a duplicate.
    act(client, fresh["id"], "return", as_role("unit_head", unit=c), reason="x")
    dup = act(client, fresh["id"], "reassign", w.office, unit_id=w.b.id)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "assignment.duplicate"
    unknown = act(client, fresh["id"], "reassign", w.office, unit_id=999999)
    assert unknown.status_code == 422


def test_reject_sends_completion_back_with_a_reason(
    client: TestClient, world: World, session: Session
) -> None:
    w = world
    aid = of_unit(assign(client, w), w.a)["id"]
    act(client, aid, "accept", w.head_a)
    act(client, aid, "request-completion", w.head_a)
    assert act(client, aid, "reject", w.office).status_code == 422
    r = act(client, aid, "reject", w.office, reason="佐证材料不全")
    assert (
        r.status_code == 200 and r.json()["state"] == "accepted" and r.json()["last_reason"] == "佐证材料不全"
    )
    assert outbox_types(session, aid)[-1] == "completion.rejected"
    assert r.json()["allowed_actions"] == ["cancel"]


def test_cancel_is_the_office_s(client: TestClient, world: World, session: Session) -> None:
    w = world
    aid = of_unit(assign(client, w), w.a)["id"]
    act(client, aid, "accept", w.head_a)
    assert act(client, aid, "cancel", w.head_a).status_code == 403
    r = act(client, aid, "cancel", w.office, reason="任务调整")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert outbox_types(session, aid)[-1] == "assignment.cancelled"


TARGET = {
    "accept": "accepted",
    "return": "returned",
    "request-completion": "completion_requested",
    "approve": "completed",
    "reject": "accepted",
    "cancel": "cancelled",
    "reassign": "assigned",
}


def test_every_move_of_the_state_machine(client: TestClient, session: Session, as_role: AsRole) -> None:
    """All states × all actions: legal moves reach the drawn state, the rest answer 409 naming the allowed."""
    office = as_role("office")
    unit = make_unit(session)
    head = as_role("unit_head", unit=unit)
    plan = make_plan(session)
    assert set(ACTIONS) == set(TARGET)
    for state in AssignmentState:
        for action in ACTIONS:
            a = make_assignment(session, task=make_task(session, plan=plan), unit=unit, state=state)
            session.commit()
            headers = head if ACTIONS[action].actor == "unit" else office
            before = session.exec(select(func.count()).select_from(OutboxEvent)).one()
            r = act(client, a.id or 0, action, headers, reason="理由")
            after = session.exec(select(func.count()).select_from(OutboxEvent)).one()
            legal = action in allowed_actions(state)
            if legal:
                assert r.status_code == 200, (state, action, r.text)
                assert r.json()["state"] == TARGET[action], (state, action)
                assert after == before + 1
            else:
                assert r.status_code == 409, (state, action, r.text)
                err = r.json()["error"]
                assert err["code"] == "assignment.illegal_transition"
                assert err["details"] == {
                    "action": action,
                    "state": str(state),
                    "allowed": sorted(allowed_actions(state)),
                }
                assert after == before, "no outbox row after a refused move"
                session.refresh(a)
                assert a.version == 1 and a.state == state
    # The drawing, exactly.
    assert {s: sorted(allowed_actions(s)) for s in AssignmentState} == {
        "assigned": ["accept", "cancel", "return"],
        "accepted": ["cancel", "request-completion"],
        "returned": ["cancel", "reassign"],
        "completion_requested": ["approve", "cancel", "reject"],
        "completed": [],
        "cancelled": [],
    }


def test_a_unit_sees_and_touches_only_its_own(client: TestClient, world: World, as_role: AsRole) -> None:
    w = world
    created = assign(client, w)
    a_id, b_id = of_unit(created, w.a)["id"], of_unit(created, w.b)["id"]
    listed = client.get(f"{API}/assignments", headers=w.head_a).json()["items"]
    assert [i["id"] for i in listed] == [a_id]
    assert (
        client.get(f"{API}/assignments", params={"unit_id": w.b.id}, headers=w.head_a).json()["items"] == []
    )
    for path in (f"{API}/assignments/{b_id}", f"{API}/assignments/{b_id}/history"):
        r = client.get(path, headers=w.head_a)
        assert r.status_code == 404 and r.json()["error"]["code"] == "assignment.not_found"
    r = act(client, b_id, "accept", w.head_a)
    assert r.status_code == 404
    staff = as_role("unit_staff", unit=w.a)
    assert client.get(f"{API}/assignments/{a_id}", headers=staff).status_code == 200
    assert act(client, a_id, "accept", staff).status_code == 403
    assert client.post(f"{API}/tasks/{w.task_id}/assignments", json={}, headers=w.head_a).status_code == 403
    assert len(client.get(f"{API}/assignments", headers=as_role("leader")).json()["items"]) == 2


def test_overdue_and_working_days(
    client: TestClient, world: World, clock: FixedClock, as_role: AsRole
) -> None:
    w = world
    aid = of_unit(assign(client, w), w.a)["id"]
    assert client.get(f"{API}/assignments/{aid}", headers=w.office).json()["overdue"] is False
    # End of local 2026-01-04 (a 调休 Sunday) is 2026-01-04T16:00Z.
    checks = (
        (datetime(2026, 1, 1, 0, tzinfo=UTC), 0),
        (datetime(2026, 1, 4, 16, tzinfo=UTC), 1),
        (datetime(2026, 1, 6, 16, tzinfo=UTC), 3),
        (datetime(2026, 1, 12, 16, tzinfo=UTC), 7),
    )
    for when, days in checks:
        clock.set(when)
        office = as_role("office")  # tokens are issued at the clock's time
        one = client.get(f"{API}/assignments/{aid}", headers=office).json()
        assert (one["overdue"], one["working_days_overdue"]) == (True, days), when
        page = client.get(f"{API}/assignments", params={"overdue": "true"}, headers=office).json()["items"]
        assert {i["id"]: i["working_days_overdue"] for i in page}[aid] == days
    not_late = client.get(f"{API}/assignments", params={"overdue": "false"}, headers=office).json()["items"]
    assert aid not in [i["id"] for i in not_late] and all(not i["overdue"] for i in not_late)
    act(client, aid, "cancel", office)
    done = client.get(f"{API}/assignments/{aid}", headers=office).json()
    assert (done["overdue"], done["working_days_overdue"]) == (False, 0)
    listed = client.get(f"{API}/assignments", params={"overdue": "true"}, headers=office).json()["items"]
    assert aid not in [i["id"] for i in listed]


def test_due_date_on_a_rest_day_moves_to_the_next_working_day(client: TestClient, world: World) -> None:
    r = assign(client, world, {"unit_ids": [world.a.id], "due_date": "2025-11-29"})  # a Saturday
    assert (r[0]["original_due_date"], r[0]["due_date"]) == ("2025-11-29", "2025-12-01")
    assert r[0]["due_at"] == "2025-12-01T16:00:00+00:00"


def test_recurring_task_gets_one_assignment_per_period(
    client: TestClient, world: World, session: Session
) -> None:
    w = world
    plan = make_plan(session, period_start=date(2024, 1, 1), period_end=date(2025, 12, 31))
    annual = make_task(session, plan=plan, recurrence="annual")
    quarterly = make_task(
        session,
        plan=make_plan(session, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31)),
        recurrence="quarterly",
    )
    monthly = make_task(
        session,
        plan=make_plan(session, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31)),
        recurrence="monthly",
    )
    session.commit()
    rows = assign(client, w, {"unit_ids": [w.a.id]}, task_id=annual.id)
    assert [(r["period"], r["due_date"]) for r in rows] == [("2024", "2024-12-31"), ("2025", "2025-12-31")]
    rows = assign(client, w, {"unit_ids": [w.a.id]}, task_id=quarterly.id)
    assert [(r["period"], r["original_due_date"]) for r in rows] == [
        ("2025-Q1", "2025-03-31"),
        ("2025-Q2", "2025-06-30"),
        ("2025-Q3", "2025-09-30"),
        ("2025-Q4", "2025-12-31"),
    ]
    rows = assign(client, w, {"unit_ids": [w.a.id]}, task_id=monthly.id)
    assert len(rows) == 12 and rows[5]["period"] == "2025-06"
    may = next(r for r in rows if r["period"] == "2025-05")
    # 31 May 2025 falls in the Dragon Boat Festival holiday (31 May – 2 June).
    assert (may["original_due_date"], may["due_date"]) == ("2025-05-31", "2025-06-03")
    by_period = client.get(f"{API}/assignments", params={"period": "2025-Q2"}, headers=w.office).json()[
        "items"
    ]
    assert [i["task_id"] for i in by_period] == [quarterly.id]


def test_group_expands_to_its_members_keeping_the_role(
    client: TestClient, world: World, session: Session
) -> None:
    w = world
    towns = [make_unit(session, name=f"测试镇{i}", kind="town") for i in range(3)]
    street = make_unit(session, name="测试街道", kind="street")
    zone = make_unit(session, name="测试开发区", kind="zone")
    make_unit(session, name="停用镇", kind="town", is_active=False)
    group = make_group(session, kinds=["town", "street"], members=[zone])
    task = make_task(session, plan=make_plan(session))
    make_task_unit(session, task=task, unit=w.a, role="lead")
    make_task_unit(session, task=task, group=group, role="implementing")
    session.commit()
    rows = assign(client, w, task_id=task.id)
    expected = {w.a.id, zone.id, street.id, *[t.id for t in towns]}
    others = set(
        session.exec(
            select(Unit.id).where(col(Unit.kind).in_(["town", "street"]), col(Unit.is_active).is_(True))
        ).all()
    )
    assert {r["unit_id"] for r in rows} == expected | others
    assert {r["role"] for r in rows if r["unit_id"] != w.a.id} == {"implementing"}
    assert next(r for r in rows if r["unit_id"] == w.a.id)["role"] == "lead"

    explicit = make_task(session, plan=make_plan(session))
    session.commit()
    rows = assign(client, w, {"group_ids": [group.id]}, task_id=explicit.id)
    assert {r["unit_id"] for r in rows} == (expected - {w.a.id}) | others
    bad = client.post(
        f"{API}/tasks/{explicit.id}/assignments", json={"group_ids": [999999]}, headers=w.office
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "assignment.unknown_groups"


def test_assigning_again_creates_no_duplicates(client: TestClient, world: World, session: Session) -> None:
    w = world
    first = assign(client, w)
    r = client.post(f"{API}/tasks/{w.task_id}/assignments", json={}, headers=w.office)
    assert r.status_code == 201 and r.json() == {"created": [], "skipped": 2}
    c = make_unit(session)
    session.commit()
    r = client.post(
        f"{API}/tasks/{w.task_id}/assignments", json={"unit_ids": [w.a.id, c.id]}, headers=w.office
    )
    assert [x["unit_id"] for x in r.json()["created"]] == [c.id] and r.json()["skipped"] == 1
    n = session.exec(
        select(func.count()).select_from(Assignment).where(Assignment.task_id == w.task_id)
    ).one()
    assert n == len(first) + 1
    events = session.exec(
        select(func.count())
        .select_from(OutboxEvent)
        .where(OutboxEvent.type == "assignment.assigned", OutboxEvent.plan_id == w.plan_id)
    ).one()
    assert events == 3
    assert client.post(f"{API}/tasks/999999/assignments", json={}, headers=w.office).status_code == 404
    bad = client.post(f"{API}/tasks/{w.task_id}/assignments", json={"unit_ids": [999999]}, headers=w.office)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "assignment.unknown_units"


def test_list_filters_sorting_and_paging(client: TestClient, world: World, session: Session) -> None:
    w = world
    for i, day in enumerate(["2025-12-15", "2025-12-05", "2025-12-25"]):
        task = make_task(session, plan=make_plan(session), code=f"L{i}")
        session.commit()
        assign(client, w, {"unit_ids": [w.a.id], "due_date": day}, task_id=task.id)
    r = client.get(f"{API}/assignments", params={"unit_id": w.a.id}, headers=w.office).json()["items"]
    assert [i["due_date"] for i in r] == ["2025-12-05", "2025-12-15", "2025-12-25"]
    r = client.get(
        f"{API}/assignments", params={"unit_id": w.a.id, "sort": "-due_date"}, headers=w.office
    ).json()
    assert [i["due_date"] for i in r["items"]] == ["2025-12-25", "2025-12-15", "2025-12-05"]
    r = client.get(
        f"{API}/assignments", params={"due_before": "2025-12-15", "due_after": "2025-12-06"}, headers=w.office
    ).json()["items"]
    assert [i["due_date"] for i in r] == ["2025-12-15"]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, "unit_id": w.a.id, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}/assignments", params=params, headers=w.office).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 3 and len(set(seen)) == 3
    one = seen[0]
    act(client, one, "accept", w.head_a)
    r = client.get(
        f"{API}/assignments", params=[("state", "accepted"), ("state", "completed")], headers=w.office
    )
    assert [i["id"] for i in r.json()["items"]] == [one]
    assert client.get(f"{API}/assignments", params={"role": "co"}, headers=w.office).json()["items"] == []
    for bad in (
        {"state": "nonsense"},
        {"sort": "title"},
        {"limit": 0},
        {"cursor": "@@"},
        {"due_before": "x"},
    ):
        r = client.get(f"{API}/assignments", params=bad, headers=w.office)
        assert r.status_code == 422, bad


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_list_runs_a_constant_number_of_queries(
    client: TestClient, world: World, session: Session, engine: Engine, clock: FixedClock, as_role: AsRole
) -> None:
    w = world
    counts = []
    for n in (5, 50):
        plan = make_plan(session)
        for i in range(n):
            make_assignment(
                session, task=make_task(session, plan=plan), unit=w.a, due_date=date(2025, 11, 1 + i % 28)
            )
        session.commit()
        clock.set(datetime(2026, 1, 20, tzinfo=UTC))  # every one overdue: working days computed too
        office = as_role("office")
        with count_statements(engine) as seen:
            r = client.get(f"{API}/assignments", params={"plan_id": plan.id, "limit": 500}, headers=office)
        assert r.status_code == 200 and len(r.json()["items"]) == n
        assert all(i["overdue"] and i["working_days_overdue"] > 0 for i in r.json()["items"])
        # The calendar stamp check runs at most every few seconds, whatever the page size: not counted.
        counts.append(
            len(
                [
                    s
                    for s in seen
                    if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))
                    and "calendar_state" not in s
                ]
            )
        )
    assert counts[0] == counts[1], counts


def test_an_out_of_range_filter_is_422_and_leaves_the_session_usable(
    client: TestClient, as_role: AsRole
) -> None:
    """Found by Schemathesis on PostgreSQL: `section_id=3499311985` (beyond a 32-bit integer) is
    refused by the database; the hot path's session fallback did not roll back, so on a shared
    session every later request met `InFailedSqlTransaction`."""
    office = as_role("office")
    r = client.get("/api/v1/assignments", params={"section_id": 3499311985}, headers=office)
    assert r.status_code in (200, 422), r.text  # SQLite has no 32-bit integers: an empty page
    assert client.get("/api/v1/assignments", headers=office).status_code == 200
    assert client.get("/api/v1/units", headers=office).status_code == 200


def test_reassigned_after_the_deadline_counts_overdue_from_the_reassignment(
    client: TestClient, world: World, session: Session, as_role: AsRole, clock: FixedClock
) -> None:
    w = world
    aid = of_unit(assign(client, w, {"unit_ids": [w.a.id], "due_date": "2025-12-10"}), w.a)["id"]
    clock.set(datetime(2025, 12, 22, 1, 0, tzinfo=UTC))  # Monday, 7 working days past the deadline
    office, head_a = as_role("office"), as_role("unit_head", unit=w.a)
    assert act(client, aid, "return", head_a, reason="不属于本单位职责").status_code == 200
    old = client.get(f"{API}/assignments/{aid}", headers=office).json()
    assert old["working_days_overdue"] == 7
    c = make_unit(session, name="县发改委")
    session.commit()
    r = act(client, aid, "reassign", office, unit_id=c.id)
    assert r.status_code == 200, r.text
    fresh = r.json()
    # The new unit's overdue time starts today: the 7 days before were the other unit's.
    assert fresh["overdue"] and fresh["overdue_from"] == "2025-12-22" and fresh["working_days_overdue"] == 0


def test_report_missing_lists_what_a_report_reminder_counts(
    client: TestClient, world: World, session: Session
) -> None:
    """Open, and no report of the period submitted or approved: a draft or a returned report does
    not count as in; a completed assignment is not missing anything. A malformed period is a 422."""
    task = session.get(Task, world.task_id)
    made = {
        name: make_assignment(session, task=task, unit=world.a, period=name, state=state)
        for name, state in [
            ("none", AssignmentState.accepted),
            ("draft", AssignmentState.accepted),
            ("rejected", AssignmentState.accepted),
            ("submitted", AssignmentState.accepted),
            ("approved", AssignmentState.returned),
            ("november", AssignmentState.assigned),
            ("closed", AssignmentState.completed),
        ]
    }
    for name in ("draft", "rejected", "submitted", "approved"):
        make_report(session, assignment=made[name], period="2025-12", state=name)
    make_report(session, assignment=made["november"], period="2025-11", state="approved")
    session.commit()

    r = client.get(
        f"{API}/assignments",
        params={"unit_id": world.a.id, "report_missing": "2025-12"},
        headers=world.office,
    )
    assert r.status_code == 200, r.text
    assert sorted(i["period"] for i in r.json()["items"]) == ["draft", "none", "november", "rejected"]
    # Unit b sees none of unit a's, whatever the filter.
    r = client.get(f"{API}/assignments", params={"report_missing": "2025-12"}, headers=world.head_b)
    assert r.status_code == 200 and r.json()["items"] == []

    bad = client.get(f"{API}/assignments", params={"report_missing": "2025-13"}, headers=world.office)
    assert bad.status_code == 422, bad.text
    assert (
        bad.json()["error"]["code"] == "period.invalid" and "报告期格式无效" in bad.json()["error"]["message"]
    )
