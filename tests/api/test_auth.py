from __future__ import annotations

import base64
import json
from datetime import timedelta

from fastapi.testclient import TestClient
from jose import jwt
from sqlmodel import Session

from duban.clock import FixedClock
from duban.settings import get_settings
from tests.api.conftest import AsRole, auth_headers
from tests.factories import make_unit, make_user


def _login(client: TestClient, username: str, password: str, ip: str | None = None) -> dict:  # type: ignore[type-arg]
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return {"status": r.status_code, "body": r.json(), "headers": r.headers}


def test_password_login_then_me(client: TestClient, session: Session) -> None:
    unit = make_unit(session, name="县科技局")
    make_user(session, username="kjj", password="s3cret-pass", roles=["unit_head"], unit_id=unit.id)
    session.commit()
    r = _login(client, "kjj", "s3cret-pass")
    assert r["status"] == 200, r
    token = r["body"]["access_token"]
    assert r["body"]["token_type"] == "bearer" and r["body"]["refresh_token"].startswith("rt_")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "kjj" and me.json()["unit_id"] == unit.id
    assert me.json()["unit_name"] == "县科技局"  # no second request for the unit's name
    assert "password_hash" not in me.json()


def test_wrong_password_is_401_with_envelope(client: TestClient, session: Session) -> None:
    make_user(session, username="bob", password="right-password")
    session.commit()
    r = _login(client, "bob", "wrong-password")
    assert r["status"] == 401
    assert r["body"]["error"]["code"] == "auth.invalid_credentials"
    assert _login(client, "nobody", "whatever1")["status"] == 401


def test_throttled_after_five_failures_with_retry_after(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    make_user(session, username="carol", password="right-password")
    session.commit()
    for _ in range(5):
        assert _login(client, "carol", "bad-password")["status"] == 401
    r = _login(client, "carol", "right-password")
    assert r["status"] == 429
    assert int(r["headers"]["retry-after"]) > 0
    assert r["body"]["error"]["code"] == "auth.too_many_attempts"
    clock.advance(timedelta(minutes=16))
    assert _login(client, "carol", "right-password")["status"] == 200


def test_refresh_rotates_and_reuse_revokes_the_login(client: TestClient, session: Session) -> None:
    make_user(session, username="dave", password="right-password")
    session.commit()
    first = _login(client, "dave", "right-password")["body"]
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    # The rotated token comes back: treated as stolen, the whole family is revoked.
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "auth.refresh_token_reused"
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code
        == 401
    )


def test_logout_revokes_refresh_token(client: TestClient, session: Session) -> None:
    make_user(session, username="erin", password="right-password")
    session.commit()
    tokens = _login(client, "erin", "right-password")["body"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers)
    assert r.status_code == 204
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )


def test_logout_everywhere_ends_access_tokens(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    user = make_user(session, username="frank", password="right-password")
    session.commit()
    headers = auth_headers(user, clock)
    assert (
        client.post("/api/v1/auth/logout", params={"everywhere": "true"}, headers=headers).status_code == 204
    )
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.token_revoked"


def test_disabled_user_is_refused_on_next_request(
    client: TestClient, session: Session, clock: FixedClock, as_role: AsRole
) -> None:
    user = make_user(session, username="gina", password="right-password", roles=["office"])
    session.commit()
    headers = auth_headers(user, clock)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    r = client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=as_role("admin"))
    assert r.status_code == 200
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401


def test_expired_token_is_401(client: TestClient, session: Session, clock: FixedClock) -> None:
    user = make_user(session)
    session.commit()
    headers = auth_headers(user, clock)
    clock.advance(timedelta(minutes=get_settings().access_token_minutes, seconds=1))
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.token_expired"


def _b64(data: dict) -> str:  # type: ignore[type-arg]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_forged_and_alg_none_tokens_are_401(client: TestClient, session: Session, clock: FixedClock) -> None:
    user = make_user(session, roles=["admin"])
    session.commit()
    settings = get_settings()
    now = int(clock.now().timestamp())
    claims = {
        "sub": str(user.id),
        "gen": 0,
        "roles": ["admin"],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
        "typ": "access",
    }
    none_token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    forged = jwt.encode(claims, "not-the-secret", algorithm="HS256")
    other_alg = jwt.encode(claims, settings.secret_key, algorithm="HS512")
    wrong_aud = jwt.encode({**claims, "aud": "someone-else"}, settings.secret_key, algorithm="HS256")
    for token in (none_token, forged, other_alg, wrong_aud, "garbage", "a.b.c"):
        r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
        assert r.json()["error"]["code"].startswith("auth.")


def test_service_account_key_shown_once_scoped_and_revocable(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("admin")
    r = client.post("/api/v1/service-accounts", json={"name": "oa", "scopes": ["tasks:read"]}, headers=admin)
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    listed = client.get("/api/v1/service-accounts", headers=admin).json()
    assert key not in json.dumps(listed) and listed[0]["keys"][0]["prefix"] == key[:10]
    assert client.get("/api/v1/units", headers={"X-API-Key": key}).status_code == 200
    # Read scope only: writes are forbidden.
    w = client.post("/api/v1/units", json={"name": "x", "kind": "town"}, headers={"X-API-Key": key})
    assert w.status_code == 403
    assert client.delete(f"/api/v1/service-accounts/{r.json()['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/units", headers={"X-API-Key": key}).status_code == 401


def test_unknown_scope_is_422(client: TestClient, as_role: AsRole) -> None:
    r = client.post(
        "/api/v1/service-accounts", json={"name": "oa2", "scopes": ["root"]}, headers=as_role("admin")
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "service_account.unknown_scope"


def test_swagger_ui_is_wired_to_the_token_endpoint(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    flows = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/v1/auth/token"
