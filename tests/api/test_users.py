from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from duban.clock import FixedClock
from tests.api.conftest import AsRole, auth_headers
from tests.factories import make_unit, make_user


def test_admin_creates_user_who_can_log_in(client: TestClient, session: Session, as_role: AsRole) -> None:
    unit = make_unit(session, name="县发改委")
    session.commit()
    r = client.post(
        "/api/v1/users",
        headers=as_role("admin"),
        json={
            "username": "fgw_head",
            "password": "long-enough-1",
            "roles": ["unit_head"],
            "unit_id": unit.id,
        },
    )
    assert r.status_code == 201, r.text
    assert "password" not in r.text
    login = client.post("/api/v1/auth/token", data={"username": "fgw_head", "password": "long-enough-1"})
    assert login.status_code == 200


def test_unit_role_requires_a_unit(client: TestClient, as_role: AsRole) -> None:
    r = client.post(
        "/api/v1/users",
        headers=as_role("admin"),
        json={"username": "nounit", "password": "long-enough-1", "roles": ["unit_staff"]},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "user.unit_required"


def test_unit_head_manages_only_own_staff(client: TestClient, session: Session, clock: FixedClock) -> None:
    own, other = make_unit(session), make_unit(session)
    head = make_user(session, roles=["unit_head"], unit_id=own.id)
    session.commit()
    h = auth_headers(head, clock)
    ok = client.post(
        "/api/v1/users",
        headers=h,
        json={"username": "staff1", "password": "long-enough-1", "roles": ["unit_staff"], "unit_id": own.id},
    )
    assert ok.status_code == 201
    for body in (
        {"username": "staff2", "password": "long-enough-1", "roles": ["unit_staff"], "unit_id": other.id},
        {"username": "boss", "password": "long-enough-1", "roles": ["office"], "unit_id": own.id},
    ):
        assert client.post("/api/v1/users", headers=h, json=body).status_code == 403


def test_unit_user_lists_only_own_unit_users(client: TestClient, session: Session, clock: FixedClock) -> None:
    own, other = make_unit(session), make_unit(session)
    me = make_user(session, roles=["unit_staff"], unit_id=own.id)
    colleague = make_user(session, roles=["unit_staff"], unit_id=own.id)
    stranger = make_user(session, roles=["unit_staff"], unit_id=other.id)
    session.commit()
    h = auth_headers(me, clock)
    ids = {u["id"] for u in client.get("/api/v1/users", headers=h).json()["items"]}
    assert ids == {me.id, colleague.id}
    assert client.get(f"/api/v1/users/{stranger.id}", headers=h).status_code == 404
    # Filtering by the other unit cannot widen the scope.
    assert client.get("/api/v1/users", params={"unit_id": other.id}, headers=h).json()["items"] == []


def test_password_change_ends_old_tokens(client: TestClient, session: Session, clock: FixedClock) -> None:
    user = make_user(session, username="pw", password="old-password-1")
    session.commit()
    h = auth_headers(user, clock)
    r = client.post(
        "/api/v1/users/me/password",
        headers=h,
        json={"current_password": "old-password-1", "new_password": "new-password-2"},
    )
    assert r.status_code == 204
    assert client.get("/api/v1/auth/me", headers=h).status_code == 401
    assert (
        client.post("/api/v1/auth/token", data={"username": "pw", "password": "new-password-2"}).status_code
        == 200
    )
