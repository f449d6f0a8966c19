from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.api.conftest import AsRole
from tests.factories import make_group, make_plan, make_section, make_unit


def _world(session: Session) -> dict[str, Any]:
    plan = make_plan(session)
    section = make_section(session, plan=plan, code="一")
    lead = make_unit(session, name="县科技局")
    co = make_unit(session, name="县招商办")
    group = make_group(session, name="测试各镇街", kinds=["town", "street"])
    session.commit()
    return {"plan": plan, "section": section, "lead": lead, "co": co, "group": group}


def _body(w: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "plan_id": w["plan"].id,
        "section_id": w["section"].id,
        "code": "1",
        "title": "强化高科技项目招引",
        "due_date": "2025-12-31",
        "tags": ["招商"],
        "units": [
            {"role": "lead", "unit_id": w["lead"].id},
            {"role": "co", "unit_id": w["co"].id},
            {"role": "implementing", "group_id": w["group"].id},
        ],
        "targets": [
            {
                "text": "新招引高科技项目50个以上",
                "value": 50,
                "unit": "个",
                "comparator": ">=",
                "due_date": "2025-12-31",
                "cadence": "annual",
            }
        ],
        **kw,
    }


def test_task_crud_with_units_targets_and_subtasks(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    w = _world(session)
    office = as_role("office")
    r = client.post("/api/v1/tasks", json=_body(w), headers=office)
    assert r.status_code == 201, r.text
    task = r.json()
    assert [(u["role"], u["unit_name"] or u["group_name"]) for u in task["units"]] == [
        ("lead", "县科技局"),
        ("co", "县招商办"),
        ("implementing", "测试各镇街"),
    ]
    assert task["targets"][0]["value"] == 50 and task["tags"] == ["招商"]
    assert task["status"]["status"] == "unassigned"

    sub = client.post(
        "/api/v1/tasks",
        json=_body(w, code="1.2", title="子任务", parent_id=task["id"], units=[]),
        headers=office,
    )
    assert sub.status_code == 201, sub.text
    subs = client.get("/api/v1/tasks", params={"parent_id": task["id"]}, headers=office).json()["items"]
    assert [s["code"] for s in subs] == ["1.2"]
    top = client.get(
        "/api/v1/tasks", params={"plan_id": w["plan"].id, "top_level": True}, headers=office
    ).json()
    assert [t["code"] for t in top["items"]] == ["1"]
    by_section = client.get(
        "/api/v1/tasks", params={"section_id": w["section"].id}, headers=as_role("unit_staff")
    )
    assert {t["code"] for t in by_section.json()["items"]} == {"1", "1.2"}

    r = client.patch(
        f"/api/v1/tasks/{task['id']}",
        json={"recurrence": "annual", "units": [{"role": "lead", "unit_id": w["co"].id}]},
        headers={**office, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["recurrence"] == "annual" and [u["unit_id"] for u in r.json()["units"]] == [w["co"].id]
    assert r.json()["version"] == 2

    assert (
        client.delete(f"/api/v1/tasks/{task['id']}", headers=office).json()["error"]["code"]
        == "task.has_subtasks"
    )
    assert client.delete(f"/api/v1/tasks/{sub.json()['id']}", headers=office).status_code == 204
    assert client.delete(f"/api/v1/tasks/{task['id']}", headers=office).status_code == 204


def test_task_input_errors(client: TestClient, as_role: AsRole, session: Session) -> None:
    w = _world(session)
    other_plan = make_plan(session)
    session.commit()
    office = as_role("office")
    assert client.post("/api/v1/tasks", json=_body(w), headers=office).status_code == 201
    dup = client.post("/api/v1/tasks", json=_body(w), headers=office)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "task.duplicate"
    cases = [
        (_body(w, code="2", units=[{"role": "lead", "unit_id": 999999}]), "task.unknown_units"),
        (_body(w, code="2", units=[{"role": "lead"}]), "validation_error"),
        (_body(w, code="2", section_id=make_section(session, plan=other_plan).id), "task.invalid_section"),
        (_body(w, code="2", recurrence="daily"), "validation_error"),
        (_body(w, code="2", plan_id=999999), "task.unknown_plan"),
        (_body(w, code=""), "validation_error"),
        (_body(w, code="2", parent_id=999999), "task.invalid_parent"),
    ]
    session.commit()
    for body, code in cases:
        r = client.post("/api/v1/tasks", json=body, headers=office)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code
    assert client.get("/api/v1/tasks/999999", headers=office).json()["error"]["code"] == "task.not_found"
    assert (
        client.post("/api/v1/tasks", json=_body(w, code="9"), headers=as_role("unit_head")).status_code == 403
    )


def test_task_status_counts_assignments_by_state(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    w = _world(session)
    office = as_role("office")
    task = client.post(
        "/api/v1/tasks",
        json=_body(
            w, units=[{"role": "lead", "unit_id": w["lead"].id}, {"role": "co", "unit_id": w["co"].id}]
        ),
        headers=office,
    ).json()
    client.post(f"/api/v1/tasks/{task['id']}/assignments", json={}, headers=office)
    head = as_role("unit_head", unit=w["lead"])
    aid = client.get("/api/v1/assignments", params={"unit_id": w["lead"].id}, headers=office).json()["items"][
        0
    ]["id"]
    assert client.post(f"/api/v1/assignments/{aid}/accept", headers=head).status_code == 200
    status = client.get(f"/api/v1/tasks/{task['id']}", headers=office).json()["status"]
    assert (
        status["total"] == 2 and status["by_state"]["accepted"] == 1 and status["by_state"]["assigned"] == 1
    )
    assert status["status"] == "in_progress"
    # A unit sees the status of its own assignments only.
    own = client.get(f"/api/v1/tasks/{task['id']}", headers=head).json()["status"]
    assert own["total"] == 1
    plan_status = client.get(f"/api/v1/plans/{w['plan'].id}", headers=office).json()["status"]
    assert plan_status["total"] == 2
