from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from duban.models import Assignment, AssignmentState, OutboxEvent, Task, Unit
from tests.api.conftest import AsRole
from tests.factories import make_assignment, make_plan, make_task, make_unit


@dataclass
class World:
    task: Task
    elsewhere: Task
    a: Unit
    b: Unit
    c: Unit
    assignment_a: Assignment
    assignment_b: Assignment


@pytest.fixture
def world(session: Session) -> World:
    plan = make_plan(session)
    task, elsewhere = make_task(session, plan=plan), make_task(session, plan=plan)
    a, b, c, d = (make_unit(session) for _ in range(4))
    aa = make_assignment(session, task=task, unit=a, state=AssignmentState.accepted)
    ab = make_assignment(session, task=task, unit=b)
    make_assignment(session, task=task, unit=d, state=AssignmentState.cancelled)
    make_assignment(session, task=elsewhere, unit=c)
    session.commit()
    return World(task, elsewhere, a, b, c, aa, ab)


def test_instruction_replies_and_status(
    client: TestClient, as_role: AsRole, session: Session, world: World
) -> None:
    leader = as_role("leader")
    r = client.post(
        f"/api/v1/tasks/{world.task.id}/instructions",
        json={"text": "请加快推进，月底前报进展"},
        headers=leader,
    )
    assert r.status_code == 201, r.text
    ins = r.json()
    ab = sorted([world.a.id, world.b.id])
    assert ins["unit_ids"] == ab and ins["pending_unit_ids"] == ab and ins["replied_unit_ids"] == []
    event = session.exec(select(OutboxEvent).where(OutboxEvent.type == "instruction.issued")).one()
    assert event.payload["data"]["unit_ids"] == ab

    staff_a = as_role("unit_staff", unit=world.a)
    reply = client.post(
        f"/api/v1/instructions/{ins['id']}/replies", json={"text": "已部署落实"}, headers=staff_a
    )
    assert reply.status_code == 201 and reply.json()["unit_id"] == world.a.id
    assert session.exec(select(OutboxEvent).where(OutboxEvent.type == "instruction.replied")).one()

    seen = client.get(f"/api/v1/instructions/{ins['id']}", headers=leader).json()
    assert seen["replied_unit_ids"] == [world.a.id] and seen["pending_unit_ids"] == [world.b.id]
    assert [x["text"] for x in seen["replies"]] == ["已部署落实"]
    listed = client.get("/api/v1/instructions", params={"task_id": world.task.id}, headers=as_role("office"))
    assert [(i["id"], i["pending_unit_ids"]) for i in listed.json()["items"]] == [(ins["id"], [world.b.id])]

    # Unit B sees the instruction but neither A's reply nor A's status.
    head_b = as_role("unit_head", unit=world.b)
    for_b = client.get(f"/api/v1/instructions/{ins['id']}", headers=head_b).json()
    assert (
        for_b["unit_ids"] == [world.b.id]
        and for_b["replies"] == []
        and for_b["pending_unit_ids"] == [world.b.id]
    )
    # Unit C is not assigned the task.
    staff_c = as_role("unit_staff", unit=world.c)
    assert client.get("/api/v1/instructions", headers=staff_c).json()["items"] == []
    assert client.get(f"/api/v1/instructions/{ins['id']}", headers=staff_c).status_code == 404
    assert (
        client.post(
            f"/api/v1/instructions/{ins['id']}/replies", json={"text": "x"}, headers=staff_c
        ).status_code
        == 404
    )


def test_instruction_on_one_assignment_and_permissions(
    client: TestClient, as_role: AsRole, world: World
) -> None:
    office = as_role("office")
    r = client.post(
        f"/api/v1/tasks/{world.task.id}/instructions",
        json={"text": "请B单位说明滞后原因", "assignment_id": world.assignment_b.id},
        headers=office,
    )
    assert r.status_code == 201 and r.json()["unit_ids"] == [world.b.id]
    iid = r.json()["id"]
    assert (
        client.get(f"/api/v1/instructions/{iid}", headers=as_role("unit_staff", unit=world.a)).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/instructions/{iid}", headers=as_role("unit_staff", unit=world.b)).status_code
        == 200
    )

    mismatch = client.post(
        f"/api/v1/tasks/{world.elsewhere.id}/instructions",
        json={"text": "x", "assignment_id": world.assignment_a.id},
        headers=office,
    )
    assert (
        mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "instruction.assignment_mismatch"
    )
    assert (
        client.post("/api/v1/tasks/999999/instructions", json={"text": "x"}, headers=office).status_code
        == 404
    )
    for role in ("unit_head", "viewer"):
        denied = client.post(
            f"/api/v1/tasks/{world.task.id}/instructions", json={"text": "x"}, headers=as_role(role)
        )
        assert denied.status_code == 403
    assert (
        client.post(
            f"/api/v1/tasks/{world.task.id}/instructions", json={"text": ""}, headers=office
        ).status_code
        == 422
    )


def test_comments_are_scoped(client: TestClient, as_role: AsRole, world: World) -> None:
    staff_a = as_role("unit_staff", unit=world.a)
    url = f"/api/v1/assignments/{world.assignment_a.id}/comments"
    for text in ("第一条", "第二条", "第三条"):
        assert client.post(url, json={"text": text}, headers=staff_a).status_code == 201
    assert client.post(url, json={"text": "请说明"}, headers=as_role("leader")).status_code == 201
    outsider = as_role("unit_head", unit=world.b)
    assert client.post(url, json={"text": "x"}, headers=outsider).status_code == 404
    assert client.get(url, headers=outsider).status_code == 404
    assert client.post(url, json={"text": "x"}, headers=as_role("viewer")).status_code == 403
    page = client.get(url, params={"limit": 3}, headers=as_role("office")).json()
    assert [c["text"] for c in page["items"]] == ["第一条", "第二条", "第三条"] and page["next_cursor"]
    rest = client.get(url, params={"limit": 3, "cursor": page["next_cursor"]}, headers=staff_a).json()
    assert [c["text"] for c in rest["items"]] == ["请说明"] and rest["next_cursor"] is None


def test_comments_name_their_author(client: TestClient, as_role: AsRole, world: World) -> None:
    url = f"/api/v1/assignments/{world.assignment_a.id}/comments"
    made = client.post(
        url, json={"text": "已报送"}, headers=as_role("unit_staff", unit=world.a, full_name="张三")
    )
    assert made.status_code == 201
    assert made.json()["author_name"] == "张三" and made.json()["author_unit_name"] == world.a.name
    client.post(url, json={"text": "请补充佐证"}, headers=as_role("office", username="office_li"))
    items = client.get(url, headers=as_role("office")).json()["items"]
    assert [(c["author_name"], c["author_unit_name"]) for c in items] == [
        ("张三", world.a.name),
        ("office_li", None),
    ]


def test_instruction_list_names_the_task_and_filters_pending(
    client: TestClient, as_role: AsRole, world: World
) -> None:
    leader = as_role("leader", full_name="王县长")
    on_task = client.post(
        f"/api/v1/tasks/{world.task.id}/instructions", json={"text": "抓紧推进"}, headers=leader
    ).json()
    on_b = client.post(
        f"/api/v1/tasks/{world.task.id}/instructions",
        json={"text": "请B单位说明", "assignment_id": world.assignment_b.id},
        headers=leader,
    ).json()
    office = as_role("office")
    items = client.get("/api/v1/instructions", headers=office).json()["items"]
    assert {(i["task_title"], i["task_code"], i["plan_id"], i["author_name"]) for i in items} == {
        (world.task.title, world.task.code, world.task.plan_id, "王县长")
    }
    one = client.get(f"/api/v1/instructions/{on_b['id']}", headers=office).json()
    assert one["task_title"] == world.task.title and one["author_name"] == "王县长"

    def ids(headers: dict[str, str], **params: object) -> list[int]:
        r = client.get("/api/v1/instructions", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids(office, unit_id=world.a.id) == [on_task["id"]]
    assert ids(office, unit_id=world.b.id) == [on_b["id"], on_task["id"]]
    assert ids(office, unit_id=world.c.id) == []
    staff_a = as_role("unit_staff", unit=world.a)
    assert ids(staff_a, pending=True) == [on_task["id"]]
    client.post(f"/api/v1/instructions/{on_task['id']}/replies", json={"text": "已部署"}, headers=staff_a)
    assert ids(staff_a, pending=True) == [] and ids(staff_a, pending=False) == [on_task["id"]]
    # County-wide: pending while any unit has not replied; per unit with unit_id.
    assert ids(office, pending=True) == [on_b["id"], on_task["id"]]
    assert ids(office, pending=True, unit_id=world.a.id) == []
    assert ids(office, pending=False, unit_id=world.a.id) == [on_task["id"]]
    head_b = as_role("unit_head", unit=world.b)
    assert ids(head_b, pending=True) == [on_b["id"], on_task["id"]]
