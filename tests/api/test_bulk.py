"""Bulk writes for the OA system: per-item results by index, one transaction, idempotent by external id."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from duban.models import Assignment, AuditEntry, OutboxEvent, PlanState, Task
from tests.api.conftest import AsRole
from tests.api.test_external_ids import _account
from tests.factories import make_plan, make_unit


def _n(session: Session, model: Any, *where: Any) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def _task(plan_id: int, ext: str, code: str, unit_id: int, **kw: Any) -> dict[str, Any]:
    return {
        "external_id": ext,
        "plan_id": plan_id,
        "code": code,
        "title": f"任务{code}",
        "due_date": "2026-06-30",
        "units": [{"role": "lead", "unit_id": unit_id}],
        **kw,
    }


def test_each_item_succeeds_or_fails_alone_with_its_index(
    client: TestClient, session: Session, as_role: AsRole
) -> None:
    oa = _account(client, as_role("admin"), "oa", ["tasks:read", "tasks:write"])
    plan, unit = make_plan(session), make_unit(session)
    session.commit()
    items = [
        _task(plan.id, "OA-1", "1", unit.id, assign=True),
        {"external_id": "OA-2", "plan_id": plan.id, "code": "2"},  # no title
        _task(plan.id, "OA-3", "3", 999_999),  # unknown unit
        _task(plan.id, "OA-4", "4", unit.id),
    ]
    r = client.post("/api/v1/bulk/tasks", json={"items": items}, headers=oa["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["updated"], body["failed"]) == (2, 0, 2)
    by_index = {x["index"]: x for x in body["results"]}
    assert [x["index"] for x in body["results"]] == [0, 1, 2, 3]
    assert by_index[0]["status"] == "created" and len(by_index[0]["assignment_ids"]) == 1
    assert by_index[3]["status"] == "created" and by_index[3]["assignment_ids"] == []
    assert by_index[1]["status"] == "failed" and by_index[1]["error"]["code"] == "validation_error"
    assert by_index[1]["error"]["message"].startswith("第 2 项：")
    assert "title" in by_index[1]["error"]["message"]
    assert by_index[2]["error"] == {
        "code": "task.unknown_units",
        "message": "第 3 项：责任单位不存在",
        "details": {"unit_ids": [999_999]},
    }
    # The failed items left nothing; the good ones are there, audited, with their events.
    assert _n(session, Task, col(Task.plan_id) == plan.id) == 2
    assert _n(session, Task, col(Task.external_id).in_(["OA-2", "OA-3"])) == 0
    for x in (by_index[0], by_index[3]):
        assert (
            _n(session, AuditEntry, AuditEntry.entity_type == "task", AuditEntry.entity_id == str(x["id"]))
            == 1
        )
    (aid,) = by_index[0]["assignment_ids"]
    assert (
        _n(session, OutboxEvent, OutboxEvent.assignment_id == aid, OutboxEvent.type == "assignment.assigned")
        == 1
    )

    # The same batch again: updates by external id, no duplicates, nothing assigned twice.
    items[0]["title"] = "改名"
    again = client.post("/api/v1/bulk/tasks", json={"items": items}, headers=oa["headers"]).json()
    assert (again["created"], again["updated"], again["failed"]) == (0, 2, 2)
    assert again["results"][0]["id"] == by_index[0]["id"] and again["results"][0]["assignment_ids"] == [aid]
    assert again["results"][0]["version"] == by_index[0]["version"] + 1
    assert again["results"][3]["version"] == by_index[3]["version"]  # unchanged: not written
    assert _n(session, Task, col(Task.plan_id) == plan.id) == 2
    assert _n(session, Assignment, col(Assignment.task_id) == by_index[0]["id"]) == 1


def test_an_item_is_all_or_nothing(client: TestClient, session: Session, as_role: AsRole) -> None:
    """A task whose 交办 fails (draft plan) is not created either: the item is one savepoint."""
    office = as_role("office")
    draft, unit = make_plan(session, state=PlanState.draft), make_unit(session)
    session.commit()
    items = [_task(draft.id, "D-1", "1", unit.id, assign=True), _task(draft.id, "D-2", "2", unit.id)]
    body = client.post("/api/v1/bulk/tasks", json={"items": items}, headers=office).json()
    assert [x["status"] for x in body["results"]] == ["failed", "created"]
    assert body["results"][0]["error"]["code"] == "plan.draft"
    assert body["results"][0]["error"]["message"].startswith("第 1 项：计划尚未发布")
    assert _n(session, Task, col(Task.external_id) == "D-1") == 0
    assert _n(session, AuditEntry, AuditEntry.action == "task.create") == 1


def test_bulk_assignments_by_task_external_id(client: TestClient, session: Session, as_role: AsRole) -> None:
    oa = _account(client, as_role("admin"), "oa", ["tasks:read", "tasks:write"])
    plan, u1, u2 = make_plan(session), make_unit(session), make_unit(session)
    session.commit()
    made = client.post(
        "/api/v1/bulk/tasks", json={"items": [_task(plan.id, "T-9", "9", u1.id)]}, headers=oa["headers"]
    ).json()
    task_id = made["results"][0]["id"]
    items = [
        {"external_id": "A-1", "task_external_id": "T-9", "unit_id": u1.id},
        {"external_id": "A-2", "task_id": task_id, "unit_id": u2.id, "role": "co"},
        {"external_id": "A-3", "task_external_id": "no-such", "unit_id": u1.id},
        {"external_id": "A-4", "unit_id": u1.id},
    ]
    body = client.post("/api/v1/bulk/assignments", json={"items": items}, headers=oa["headers"]).json()
    assert [x["status"] for x in body["results"]] == ["created", "created", "failed", "failed"], body
    assert body["results"][2]["error"]["code"] == "task.not_found"
    assert body["results"][2]["error"]["message"] == "第 3 项：任务不存在"
    assert body["results"][3]["error"]["code"] == "bulk.task_required"
    again = client.post("/api/v1/bulk/assignments", json={"items": items[:2]}, headers=oa["headers"]).json()
    assert [x["status"] for x in again["results"]] == ["existing", "existing"]
    assert [x["id"] for x in again["results"]] == [x["id"] for x in body["results"][:2]]
    assert _n(session, Assignment, col(Assignment.task_id) == task_id) == 2


def test_limits_and_scope(client: TestClient, session: Session, as_role: AsRole) -> None:
    admin = as_role("admin")
    reader = _account(client, admin, "ro", ["tasks:read"])
    plan, unit = make_plan(session), make_unit(session)
    session.commit()
    one = {"items": [_task(plan.id, "X-1", "1", unit.id)]}
    denied = client.post("/api/v1/bulk/tasks", json=one, headers=reader["headers"])
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "auth.scope_required"
    assert client.post("/api/v1/bulk/tasks", json=one, headers=as_role("unit_head")).status_code == 403
    too_many = {"items": [_task(plan.id, f"X-{i}", str(i), unit.id) for i in range(201)]}
    r = client.post("/api/v1/bulk/tasks", json=too_many, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert client.post("/api/v1/bulk/tasks", json={"items": []}, headers=admin).status_code == 422
    assert _n(session, Task, col(Task.plan_id) == plan.id) == 0


def test_one_call_create_and_progress(client: TestClient, session: Session, as_role: AsRole) -> None:
    """POST /tasks with `assign` 交办s in the same transaction; a report with `submit` is submitted."""
    office = as_role("office")
    plan, unit = make_plan(session), make_unit(session)
    draft = make_plan(session, state=PlanState.draft)
    session.commit()
    head = as_role("unit_head", unit=unit)
    body = {k: v for k, v in _task(plan.id, "", "1", unit.id, assign=True).items() if k != "external_id"}
    r = client.post("/api/v1/tasks", json=body, headers=office)
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    (a,) = session.exec(select(Assignment).where(col(Assignment.task_id) == task_id)).all()
    assert r.json()["status"]["total"] == 1
    assert (
        _n(session, OutboxEvent, OutboxEvent.assignment_id == a.id, OutboxEvent.type == "assignment.assigned")
        == 1
    )
    # On a draft plan nothing is created: the task and its 交办 are one transaction.
    refused = client.post("/api/v1/tasks", json={**body, "plan_id": draft.id}, headers=office)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "plan.draft"
    assert _n(session, Task, col(Task.plan_id) == draft.id) == 0

    assert client.post(f"/api/v1/assignments/{a.id}/accept", headers=head).status_code == 200
    empty = client.post(f"/api/v1/assignments/{a.id}/reports", json={"submit": True}, headers=head)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "report.text_required"
    rep = client.post(
        f"/api/v1/assignments/{a.id}/reports",
        json={"text": "已完成年度目标的一半", "percent_done": 50, "submit": True},
        headers=head,
    )
    assert rep.status_code == 201, rep.text
    assert rep.json()["state"] == "submitted" and rep.json()["submitted_at"] is not None
    assert (
        _n(session, OutboxEvent, OutboxEvent.assignment_id == a.id, OutboxEvent.type == "report.submitted")
        == 1
    )
    assert client.post(f"/api/v1/reports/{rep.json()['id']}/submit", headers=head).status_code == 409
