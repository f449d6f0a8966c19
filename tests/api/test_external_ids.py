"""External ids, unique per service account: repeated creates update, PUT upserts, lists find them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from duban.clock import FixedClock
from duban.models import Assignment, AuditEntry, Plan, Task, Unit, User
from tests.api.conftest import AsRole
from tests.factories import make_plan, make_unit

ALL_SCOPES = ["tasks:read", "tasks:write", "users:manage", "units:manage"]


def _account(client: TestClient, admin: dict[str, str], name: str, scopes: list[str]) -> dict[str, Any]:
    r = client.post("/api/v1/service-accounts", json={"name": name, "scopes": scopes}, headers=admin)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    body["headers"] = {"X-API-Key": body["api_key"]}
    return body


def _count(session: Session, model: Any, external_id: str) -> int:
    session.expire_all()
    return session.exec(
        select(func.count()).select_from(model).where(col(model.external_id) == external_id)
    ).one()


def _audits(session: Session, entity_type: str, entity_id: Any) -> int:
    session.expire_all()
    return session.exec(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
    ).one()


def test_each_account_has_its_own_ids_and_a_repeat_updates(
    client: TestClient, session: Session, as_role: AsRole
) -> None:
    admin = as_role("admin")
    oa, other = _account(client, admin, "oa", ALL_SCOPES), _account(client, admin, "archive", ALL_SCOPES)
    plan = make_plan(session)
    session.commit()
    task = {"plan_id": plan.id, "code": "1", "title": "强化高科技项目招引", "external_id": "T-1"}
    first = client.post("/api/v1/tasks", json=task, headers=oa["headers"])
    assert first.status_code == 201, first.text
    assert first.json()["external_source_id"] == oa["user_id"]
    again = client.post("/api/v1/tasks", json={**task, "title": "改名"}, headers=oa["headers"])
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["title"] == "改名" and again.json()["version"] == first.json()["version"] + 1
    # Another account's "T-1" is another task (its code must differ: codes are unique per plan).
    theirs = client.post("/api/v1/tasks", json={**task, "code": "2"}, headers=other["headers"])
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert _count(session, Task, "T-1") == 2

    # A list finds the caller's own id; a person sees every source unless one is named.
    mine = client.get("/api/v1/tasks", params={"external_id": "T-1"}, headers=oa["headers"]).json()
    assert [t["id"] for t in mine["items"]] == [first.json()["id"]]
    office = as_role("office")
    both = client.get("/api/v1/tasks", params={"external_id": "T-1"}, headers=office).json()
    assert len(both["items"]) == 2
    named = client.get(
        "/api/v1/tasks", params={"external_id": "T-1", "external_source_id": other["user_id"]}, headers=office
    ).json()
    assert [t["id"] for t in named["items"]] == [theirs.json()["id"]]


def test_an_unchanged_repeat_writes_nothing(client: TestClient, session: Session, as_role: AsRole) -> None:
    oa = _account(client, as_role("admin"), "oa", ALL_SCOPES)
    body = {"title": "科技创新行动方案", "doc_no": "涟政办发〔2024〕7号"}
    first = client.put("/api/v1/plans/by-external-id/P-9", json=body, headers=oa["headers"])
    assert first.status_code == 201, first.text
    audits = _audits(session, "plan", first.json()["id"])
    for _ in range(3):
        r = client.put("/api/v1/plans/by-external-id/P-9", json=body, headers=oa["headers"])
        assert r.status_code == 200 and r.json()["version"] == first.json()["version"]
    assert _audits(session, "plan", first.json()["id"]) == audits
    changed = client.put(
        "/api/v1/plans/by-external-id/P-9", json={**body, "title": "新标题"}, headers=oa["headers"]
    )
    assert changed.status_code == 200 and changed.json()["title"] == "新标题"
    assert _audits(session, "plan", first.json()["id"]) == audits + 1
    assert _count(session, Plan, "P-9") == 1


def test_put_by_external_id_for_every_resource(client: TestClient, session: Session, as_role: AsRole) -> None:
    oa = _account(client, as_role("admin"), "oa", ALL_SCOPES)
    h = oa["headers"]
    unit = client.put(
        "/api/v1/units/by-external-id/U-1", json={"name": "县科技局", "kind": "department"}, headers=h
    )
    assert unit.status_code == 201, unit.text
    renamed = client.put(
        "/api/v1/units/by-external-id/U-1", json={"name": "县科学技术局", "kind": "department"}, headers=h
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "县科学技术局"
    assert renamed.json()["id"] == unit.json()["id"]

    user = {
        "username": "kjj-zhang",
        "full_name": "张三",
        "roles": ["unit_head"],
        "unit_id": unit.json()["id"],
    }
    created = client.put(
        "/api/v1/users/by-external-id/E-7", json={**user, "password": "long-enough-1"}, headers=h
    )
    assert created.status_code == 201, created.text
    again = client.put("/api/v1/users/by-external-id/E-7", json={**user, "full_name": "张三丰"}, headers=h)
    assert again.status_code == 200 and again.json()["full_name"] == "张三丰"
    session.expire_all()
    person = session.get(User, created.json()["id"])
    assert person is not None and person.password_hash and person.external_source_id == oa["user_id"]
    moved = client.put(
        "/api/v1/users/by-external-id/E-7", json={**user, "username": "someone-else"}, headers=h
    )
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "user.external_id_in_use"
    # An integration's key manages people, never administrators.
    boss = client.put(
        "/api/v1/users/by-external-id/E-8", json={**user, "username": "x1", "roles": ["admin"]}, headers=h
    )
    assert boss.status_code == 403

    plan = client.put("/api/v1/plans/by-external-id/P-1", json={"title": "行动方案"}, headers=h).json()
    task_body = {"plan_id": plan["id"], "code": "1", "title": "任务一", "due_date": "2025-12-31"}
    task = client.put("/api/v1/tasks/by-external-id/T-1", json=task_body, headers=h)
    assert task.status_code == 201, task.text
    same = client.put("/api/v1/tasks/by-external-id/T-1", json=task_body, headers=h)
    assert same.status_code == 200 and same.json()["version"] == task.json()["version"]
    other_plan = client.put("/api/v1/plans/by-external-id/P-2", json={"title": "另一方案"}, headers=h).json()
    wrong = client.put(
        "/api/v1/tasks/by-external-id/T-1", json={**task_body, "plan_id": other_plan["id"]}, headers=h
    )
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "task.external_id_in_other_plan"

    a_body = {"task_id": task.json()["id"], "unit_id": unit.json()["id"]}
    a = client.put("/api/v1/assignments/by-external-id/A-1", json=a_body, headers=h)
    assert a.status_code == 201, a.text
    assert a.json()["external_id"] == "A-1" and a.json()["external_source_id"] == oa["user_id"]
    a2 = client.put("/api/v1/assignments/by-external-id/A-1", json=a_body, headers=h)
    assert a2.status_code == 200 and a2.json()["id"] == a.json()["id"]
    found = client.get("/api/v1/assignments", params={"external_id": "A-1"}, headers=h).json()["items"]
    assert [x["id"] for x in found] == [a.json()["id"]]
    # The same (task, unit) under a second id: it exists already.
    dup = client.put("/api/v1/assignments/by-external-id/A-2", json=a_body, headers=h)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "assignment.exists"
    for path, model in (("units", Unit), ("users", User), ("plans", Plan), ("tasks", Task)):
        listed = client.get(f"/api/v1/{path}", params={"external_id": "U-1"}, headers=h).json()["items"]
        assert len(listed) == (1 if model is Unit else 0), path
    assert _count(session, Assignment, "A-1") == 1


def test_post_assignment_with_external_id(client: TestClient, session: Session, as_role: AsRole) -> None:
    oa = _account(client, as_role("admin"), "oa", ALL_SCOPES)
    plan = make_plan(session)
    units = [make_unit(session), make_unit(session)]
    session.commit()
    task = client.post(
        "/api/v1/tasks", json={"plan_id": plan.id, "code": "1", "title": "任务"}, headers=oa["headers"]
    )
    url = f"/api/v1/tasks/{task.json()['id']}/assignments"
    body = {"unit_ids": [units[0].id], "external_id": "A-9", "due_date": "2025-12-31"}
    first = client.post(url, json=body, headers=oa["headers"])
    assert first.status_code == 201 and len(first.json()["created"]) == 1, first.text
    again = client.post(url, json=body, headers=oa["headers"])
    assert again.status_code == 200 and again.json()["created"] == []
    assert again.json()["existing"][0]["id"] == first.json()["created"][0]["id"]
    two = client.post(url, json={**body, "unit_ids": [u.id for u in units]}, headers=oa["headers"])
    assert two.status_code == 422 and two.json()["error"]["code"] == "assignment.external_id_needs_one"
    elsewhere = client.post(url, json={**body, "unit_ids": [units[1].id]}, headers=oa["headers"])
    assert (
        elsewhere.status_code == 409 and elsewhere.json()["error"]["code"] == "assignment.external_id_in_use"
    )


def test_people_keep_one_namespace_of_their_own(
    client: TestClient, session: Session, as_role: AsRole
) -> None:
    admin = as_role("admin")
    oa = _account(client, admin, "oa", ALL_SCOPES)
    by_oa = client.post(
        "/api/v1/units", json={"name": "甲", "kind": "town", "external_id": "X"}, headers=oa["headers"]
    )
    by_admin = client.post(
        "/api/v1/units", json={"name": "乙", "kind": "town", "external_id": "X"}, headers=admin
    )
    assert by_oa.status_code == by_admin.status_code == 201
    assert by_admin.json()["external_source_id"] is None
    repeat = client.post(
        "/api/v1/units", json={"name": "乙镇", "kind": "town", "external_id": "X"}, headers=admin
    )
    assert repeat.status_code == 200 and repeat.json()["id"] == by_admin.json()["id"]
    assert _count(session, Unit, "X") == 2


def test_done_when_scoped_key_twice_one_task_403_401_and_rotation_overlap(
    client: TestClient, session: Session, as_role: AsRole, clock: FixedClock
) -> None:
    """Issue 13: two creates, one task; no scope 403; revoked 401; a rotated key only in the overlap."""
    admin = as_role("admin")
    oa = _account(client, admin, "oa", ["tasks:read", "tasks:write"])
    reader = _account(client, admin, "reader", ["tasks:read"])
    plan = make_plan(session)
    session.commit()
    body = {"plan_id": plan.id, "code": "7", "title": "创新平台", "external_id": "OA-2024-7"}
    statuses = [client.post("/api/v1/tasks", json=body, headers=oa["headers"]).status_code for _ in range(2)]
    assert statuses == [201, 200] and _count(session, Task, "OA-2024-7") == 1

    refused = client.post("/api/v1/tasks", json={**body, "external_id": "R-1"}, headers=reader["headers"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.scope_required"

    until = clock.now() + timedelta(hours=2)
    r = client.post(
        f"/api/v1/service-accounts/{oa['user_id']}/rotate-key",
        json={"old_keys_valid_until": until.isoformat()},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    new = {"X-API-Key": r.json()["api_key"]}
    assert r.json()["scopes"] == ["tasks:read", "tasks:write"]
    assert [k["id"] for k in r.json()["old_keys"]] == [oa["id"]]
    for headers in (oa["headers"], new):
        assert client.post("/api/v1/tasks", json=body, headers=headers).status_code == 200
    clock.advance(timedelta(hours=2))
    assert client.get("/api/v1/tasks", headers=oa["headers"]).status_code == 401
    assert client.post("/api/v1/tasks", json=body, headers=new).status_code == 200
    assert _count(session, Task, "OA-2024-7") == 1

    admin = as_role("admin")  # the first one's access token has expired meanwhile
    assert client.delete(f"/api/v1/service-accounts/{r.json()['key_id']}", headers=admin).status_code == 204
    gone = client.get("/api/v1/tasks", headers=new)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "auth.invalid_api_key"
    # Nothing live to rotate any more.
    again = client.post(f"/api/v1/service-accounts/{oa['user_id']}/rotate-key", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "service_account.no_live_key"


def test_rotation_overlap_is_bounded(client: TestClient, as_role: AsRole, clock: FixedClock) -> None:
    admin = as_role("admin")
    oa = _account(client, admin, "oa", ["tasks:read"])
    url = f"/api/v1/service-accounts/{oa['user_id']}/rotate-key"
    for until in (clock.now() - timedelta(minutes=1), clock.now() + timedelta(days=31)):
        r = client.post(url, json={"old_keys_valid_until": until.isoformat()}, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["code"] == "service_account.invalid_overlap"
    r = client.post(url, headers=admin)  # default overlap: 24 hours
    assert r.status_code == 200
    clock.advance(timedelta(hours=23, minutes=59))
    assert client.get("/api/v1/units", headers=oa["headers"]).status_code == 200
    clock.advance(timedelta(minutes=1))
    assert client.get("/api/v1/units", headers=oa["headers"]).status_code == 401
    missing = client.post("/api/v1/service-accounts/999999/rotate-key", headers=as_role("admin"))
    assert missing.status_code == 404


def test_list_shows_accounts_keys_and_last_use_written_once_a_minute(
    client: TestClient, session: Session, as_role: AsRole, clock: FixedClock
) -> None:
    admin = as_role("admin")
    oa = _account(client, admin, "oa", ["tasks:read"])
    listed = client.get("/api/v1/service-accounts", headers=admin).json()
    account = next(a for a in listed if a["id"] == oa["user_id"])
    assert account["name"] == "oa" and account["last_used_at"] is None
    assert account["keys"][0]["prefix"] == oa["api_key"][:10] and account["keys"][0]["active"] is True
    assert oa["api_key"] not in str(listed)

    first_use = clock.now()
    for _ in range(5):
        assert client.get("/api/v1/units", headers=oa["headers"]).status_code == 200
        clock.advance(timedelta(seconds=10))
    account = next(
        a for a in client.get("/api/v1/service-accounts", headers=admin).json() if a["id"] == oa["user_id"]
    )
    # Five requests within 50 seconds: one write, the first.
    assert account["last_used_at"] == first_use.isoformat()
    assert account["last_used_address"] == "testclient"
    clock.advance(timedelta(seconds=20))
    assert client.get("/api/v1/units", headers=oa["headers"]).status_code == 200
    account = next(
        a for a in client.get("/api/v1/service-accounts", headers=admin).json() if a["id"] == oa["user_id"]
    )
    assert account["last_used_at"] == clock.now().isoformat()


def test_every_action_is_audited_under_the_account(
    client: TestClient, session: Session, as_role: AsRole
) -> None:
    admin = as_role("admin")
    oa = _account(client, admin, "oa", ALL_SCOPES)
    unit = client.post(
        "/api/v1/units",
        json={"name": "县发改委", "kind": "department", "external_id": "U"},
        headers=oa["headers"],
    )
    plan = client.put("/api/v1/plans/by-external-id/P", json={"title": "方案"}, headers=oa["headers"])
    assert unit.status_code == plan.status_code == 201
    session.expire_all()
    actors = session.exec(
        select(AuditEntry.actor_id, AuditEntry.action).where(
            col(AuditEntry.action).in_(["unit.create", "plan.create"])
        )
    ).all()
    assert sorted(actors, key=lambda a: a[1]) == [
        (oa["user_id"], "plan.create"),
        (oa["user_id"], "unit.create"),
    ]
    rotated = client.post(f"/api/v1/service-accounts/{oa['user_id']}/rotate-key", headers=admin)
    assert rotated.status_code == 200
    session.expire_all()
    actions = set(session.exec(select(AuditEntry.action).where(col(AuditEntry.action).like("%key%"))).all())
    assert {"api_key.create", "api_key.rotate", "service_account.rotate_key"} <= actions
