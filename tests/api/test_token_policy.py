"""One token policy: a bump of the user's token generation ends every session, access and refresh.

Password change, admin reset, disabling and sign-out all bump it; strict claims on every token.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlmodel import Session, select

from duban.clock import FixedClock
from duban.models import RefreshToken
from duban.settings import get_settings
from tests.api.conftest import AsRole
from tests.factories import make_user

PASSWORD = "right-password-1"


def _login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _refresh(client: TestClient, tokens: dict[str, Any]) -> Any:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


def _assert_session_over(client: TestClient, tokens: dict[str, Any]) -> None:
    me = client.get("/api/v1/auth/me", headers=_bearer(tokens))
    assert me.status_code == 401 and me.json()["error"]["code"] == "auth.token_revoked"
    r = _refresh(client, tokens)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] in ("auth.session_ended", "auth.invalid_refresh_token")


def test_password_change_ends_every_session(client: TestClient, session: Session) -> None:
    make_user(session, username="pc", password=PASSWORD)
    session.commit()
    laptop, phone = _login(client, "pc"), _login(client, "pc")
    r = client.post(
        "/api/v1/users/me/password",
        headers=_bearer(laptop),
        json={"current_password": PASSWORD, "new_password": "new-password-2"},
    )
    assert r.status_code == 204
    # The other device's refresh token no longer mints a (new-generation) access token.
    r = _refresh(client, phone)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.session_ended"
    _assert_session_over(client, laptop)
    _assert_session_over(client, phone)
    fresh = _login(client, "pc", "new-password-2")
    assert client.get("/api/v1/auth/me", headers=_bearer(fresh)).status_code == 200
    assert _refresh(client, fresh).status_code == 200


def test_admin_reset_ends_every_session(client: TestClient, session: Session, as_role: AsRole) -> None:
    target = make_user(session, username="reset-me", password=PASSWORD, roles=["office"])
    session.commit()
    tokens = _login(client, "reset-me")
    r = client.patch(
        f"/api/v1/users/{target.id}", json={"password": "reset-password-9"}, headers=as_role("admin")
    )
    assert r.status_code == 200, r.text
    _assert_session_over(client, tokens)


def test_disabling_ends_every_session(client: TestClient, session: Session, as_role: AsRole) -> None:
    target = make_user(session, username="leaving", password=PASSWORD, roles=["office"])
    session.commit()
    tokens = _login(client, "leaving")
    r = client.patch(f"/api/v1/users/{target.id}", json={"is_active": False}, headers=as_role("admin"))
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=_bearer(tokens)).status_code == 401
    assert _refresh(client, tokens).status_code == 401


def test_logout_ends_the_access_token_and_every_refresh_token(client: TestClient, session: Session) -> None:
    make_user(session, username="bye", password=PASSWORD)
    session.commit()
    tokens, other = _login(client, "bye"), _login(client, "bye")
    r = client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=_bearer(tokens)
    )
    assert r.status_code == 204
    _assert_session_over(client, tokens)
    _assert_session_over(client, other)
    rows = session.exec(select(RefreshToken)).all()
    assert rows and all(row.revoked_at is not None for row in rows)


def test_refresh_keeps_working_within_the_generation(client: TestClient, session: Session) -> None:
    make_user(session, username="stay", password=PASSWORD)
    session.commit()
    tokens = _login(client, "stay")
    for _ in range(3):
        r = _refresh(client, tokens)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        tokens = r.json()
    assert client.get("/api/v1/auth/me", headers=_bearer(tokens)).status_code == 200


def _claims(user_id: int, clock: FixedClock, **overrides: Any) -> dict[str, Any]:
    settings = get_settings()
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "gen": 0,
        "roles": ["viewer"],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "typ": "access",
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


def _me(client: TestClient, claims: dict[str, Any]) -> int:
    token = jwt.encode(claims, get_settings().secret_key, algorithm="HS256")
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.parametrize(
    "label,overrides",
    [
        ("future nbf", {"nbf": "+3600"}),
        ("future iat", {"iat": "+3600"}),
        ("missing aud", {"aud": None}),
        ("missing nbf", {"nbf": None}),
        ("missing iat", {"iat": None}),
        ("missing exp", {"exp": None}),
        ("string exp", {"exp": "str"}),
        ("boolean exp", {"exp": True}),
        ("string gen", {"gen": "0"}),
        ("refresh type", {"typ": "refresh"}),
        ("other issuer", {"iss": "elsewhere"}),
    ],
)
def test_strict_claims(
    client: TestClient, session: Session, clock: FixedClock, label: str, overrides: dict[str, Any]
) -> None:
    user = make_user(session)
    session.commit()
    assert _me(client, _claims(user.id or 0, clock)) == 200
    now = int(clock.now().timestamp())
    resolved = {
        k: (now + 3600 if v == "+3600" else str(now + 600) if v == "str" else v) for k, v in overrides.items()
    }
    assert _me(client, _claims(user.id or 0, clock, **resolved)) == 401, label


def test_small_clock_skew_is_tolerated(client: TestClient, session: Session, clock: FixedClock) -> None:
    user = make_user(session)
    session.commit()
    now = int(clock.now().timestamp())
    assert _me(client, _claims(user.id or 0, clock, nbf=now + 30, iat=now + 30)) == 200
    clock.advance(timedelta(minutes=11))
    assert _me(client, _claims(user.id or 0, FixedClock(clock.now() - timedelta(minutes=11)))) == 401


def test_python_jose_only_in_api_security() -> None:
    services = Path(__file__).resolve().parents[2] / "services"
    users = []
    for path in services.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "jose" or n.startswith("jose.") for n in names):
                users.append(str(path.relative_to(services)))
    assert users == ["api/security.py"]
