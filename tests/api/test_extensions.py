from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from duban.models import Assignment, AssignmentState, AuditEntry, OutboxEvent, Task, Unit
from tests.api.conftest import AsRole
from tests.factories import make_assignment, make_plan, make_task, make_unit


@pytest.fixture
def setup(session: Session) -> tuple[Unit, Unit, Assignment]:
    plan = make_plan(session)
    unit, other = make_unit(session), make_unit(session)
    assignment = make_assignment(
        session,
        task=make_task(session, plan=plan),
        unit=unit,
        state=AssignmentState.accepted,
        due_date=date(2025, 12, 31),
    )
    session.commit()
    return unit, other, assignment


def _ask(
    client: TestClient, a: Assignment, headers: dict[str, str], day: str, reason: str = "项目审批未完成"
) -> Any:
    return client.post(
        f"/api/v1/assignments/{a.id}/extension-requests",
        json={"requested_due_date": day, "reason": reason},
        headers=headers,
    )


def test_approval_moves_due_date_to_a_working_day_and_is_audited(
    client: TestClient, as_role: AsRole, session: Session, setup: tuple[Unit, Unit, Assignment]
) -> None:
    unit, _, assignment = setup
    head = as_role("unit_head", unit=unit)
    r = client.post(
        f"/api/v1/assignments/{assignment.id}/extension-requests",
        json={"requested_due_date": "2026-01-03", "reason": "项目审批未完成"},
        headers=head,
    )
    assert r.status_code == 201, r.text
    ext = r.json()
    assert ext["state"] == "pending" and ext["previous_due_date"] == "2025-12-31"

    approved = client.post(
        f"/api/v1/extension-requests/{ext['id']}/approve", json={"comment": "同意"}, headers=as_role("office")
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"

    session.refresh(assignment)
    # 2026-01-01..03 are the New Year holiday; Sunday 2026-01-04 is an adjusted working day (调休).
    assert assignment.due_date == date(2026, 1, 4)
    assert assignment.due_at == datetime(2026, 1, 4, 16, 0, tzinfo=UTC)  # 24:00 Asia/Shanghai
    assert assignment.extension_count == 1 and assignment.original_due_date == date(2025, 12, 31)

    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "assignment.extend")).one()
    assert entry.before is not None and entry.after is not None
    assert (entry.before["due_date"], entry.after["due_date"]) == ("2025-12-31", "2026-01-04")
    assert entry.after["extension_count"] == 1
    events = session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))).all()
    assert [e.type for e in events] == ["extension.requested", "extension.decided"]
    assert (
        events[1].payload["data"]["approved"] is True
        and events[1].payload["data"]["due_date"] == "2026-01-04"
    )

    again = client.post(f"/api/v1/extension-requests/{ext['id']}/approve", headers=as_role("office"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "extension.illegal_transition"


def test_request_rules_and_scope(
    client: TestClient, as_role: AsRole, session: Session, setup: tuple[Unit, Unit, Assignment]
) -> None:
    unit, other, assignment = setup
    head = as_role("unit_head", unit=unit)
    earlier = _ask(client, assignment, head, "2025-12-31")
    assert earlier.status_code == 422 and earlier.json()["error"]["code"] == "extension.not_later"
    assert _ask(client, assignment, as_role("unit_staff", unit=unit), "2026-02-01").status_code == 403
    outsider = as_role("unit_head", unit=other)
    assert _ask(client, assignment, outsider, "2026-02-01").status_code == 404
    assert _ask(client, assignment, head, "not-a-date").status_code == 422

    first = _ask(client, assignment, head, "2026-02-01").json()
    dup = _ask(client, assignment, head, "2026-03-01")
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "extension.pending_exists"

    assert client.get(f"/api/v1/extension-requests/{first['id']}", headers=outsider).status_code == 404
    assert client.get("/api/v1/extension-requests", headers=outsider).json()["items"] == []
    mine = client.get("/api/v1/extension-requests", params={"state": "pending"}, headers=head).json()["items"]
    assert [e["id"] for e in mine] == [first["id"]]

    office = as_role("office")
    no_reason = client.post(f"/api/v1/extension-requests/{first['id']}/reject", json={}, headers=office)
    assert no_reason.status_code == 422
    assert client.post(f"/api/v1/extension-requests/{first['id']}/approve", headers=head).status_code == 403
    rejected = client.post(
        f"/api/v1/extension-requests/{first['id']}/reject", json={"comment": "理由不充分"}, headers=office
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    session.refresh(assignment)
    assert assignment.due_date == date(2025, 12, 31) and assignment.extension_count == 0

    assignment.state = AssignmentState.completed
    session.commit()
    closed = _ask(client, assignment, head, "2026-02-01")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "extension.assignment_closed"


def test_extension_list_items_name_task_and_unit(
    client: TestClient, as_role: AsRole, session: Session, setup: tuple[Unit, Unit, Assignment]
) -> None:
    unit, other, a = setup
    assert _ask(client, a, as_role("unit_head", unit=unit), "2026-01-30").status_code == 201
    task = session.get(Task, a.task_id)
    assert task is not None
    office = as_role("office")
    items = client.get("/api/v1/extension-requests", params={"plan_id": a.plan_id}, headers=office).json()[
        "items"
    ]
    assert [(i["unit_name"], i["task_title"], i["task_code"], i["task_id"]) for i in items] == [
        (unit.name, task.title, task.code, task.id)
    ]
    assert (
        client.get("/api/v1/extension-requests", params={"plan_id": a.plan_id + 999}, headers=office).json()[
            "items"
        ]
        == []
    )
    assert (
        client.get("/api/v1/extension-requests", headers=as_role("unit_head", unit=other)).json()["items"]
        == []
    )
