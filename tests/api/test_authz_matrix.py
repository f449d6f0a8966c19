from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth.scopes import API_SCOPES, DECLARED, endpoint_key
from api.security import hash_token
from duban.clock import FixedClock
from duban.models import ApiKey, Role, User
from duban.settings import get_settings
from tests.api.authz_rules import PUBLIC, ROLES, RULES, SCOPES
from tests.api.conftest import auth_headers, openapi_spec, pristine_app
from tests.factories import make_unit, make_user

_METHODS = ("get", "post", "put", "patch", "delete")


def app_routes() -> list[tuple[str, str]]:
    spec = openapi_spec()
    return sorted((m.upper(), path) for path, item in spec["paths"].items() for m in item if m in _METHODS)


def test_every_route_has_an_authorization_rule() -> None:
    routes = set(app_routes())
    missing = sorted(r for r in routes if r not in RULES)
    assert missing == [], f"routes without a rule in tests/api/authz_rules.py: {missing}"
    stale = [r for r in RULES if r not in routes]
    assert stale == [], f"rules for routes that no longer exist: {stale}"


def _url(path: str) -> str:
    # Unknown ids: the role check must answer before (or regardless of) the lookup.
    return re.sub(r"\{[^}]+\}", "999999", path)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return client.request(method, _url(path), **kwargs)


def test_matrix_every_route_every_role(client: TestClient, session: Session, clock: FixedClock) -> None:
    unit = make_unit(session)
    users = {
        role: make_user(session, roles=[role], unit_id=unit.id if role.startswith("unit_") else None)
        for role in ROLES
    }
    session.commit()
    headers = {role: auth_headers(u, clock) for role, u in users.items()}
    headers["anonymous"] = {}
    failures = []
    for method, path in app_routes():
        if path in ("/api/v1/auth/logout",) or path.endswith("/password"):
            continue  # these end the caller's own session: covered in test_auth/test_users
        allowed = RULES[(method, path)]
        for role in ("anonymous", *ROLES):
            r = _call(client, method, path, headers[role])
            if r.status_code >= 500:
                failures.append(f"{method} {path} as {role}: {r.status_code} {r.text[:200]}")
            elif role not in allowed:
                want = 401 if role == "anonymous" else 403
                if r.status_code != want:
                    failures.append(f"{method} {path} as {role}: expected {want}, got {r.status_code}")
            elif r.status_code in (401, 403) and allowed is not PUBLIC:
                failures.append(f"{method} {path} as {role}: allowed but got {r.status_code} {r.text[:200]}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("role", ["unit_head", "unit_staff"])
def test_unit_user_cannot_read_other_units_people(
    client: TestClient, session: Session, clock: FixedClock, role: str
) -> None:
    own, other = make_unit(session), make_unit(session)
    me = make_user(session, roles=[role], unit_id=own.id)
    them = make_user(session, roles=["unit_staff"], unit_id=other.id)
    session.commit()
    assert client.get(f"/api/v1/users/{them.id}", headers=auth_headers(me, clock)).status_code == 404


def test_every_route_declares_what_a_service_account_needs() -> None:
    routes = {r for r in app_routes() if RULES[r] is not PUBLIC}
    assert sorted(routes - set(SCOPES)) == [], "routes without an entry in authz_rules.SCOPES"
    assert sorted(set(SCOPES) - routes) == [], "SCOPES entries for routes that no longer exist"
    app = pristine_app()
    endpoints = {endpoint_key(r.endpoint) for r in _api_routes(app)}
    assert sorted(set(DECLARED) - endpoints) == [], "api.auth.scopes.DECLARED names unknown endpoints"


def _api_routes(app: Any) -> list[Any]:
    from fastapi.routing import APIRoute

    found = []
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            stack.extend(route.original_router.routes)
    return found


def _api_key(session: Session, name: str, scopes: list[str]) -> dict[str, str]:
    user = User(username=f"svc-{name}", roles=[Role.service], is_service_account=True)
    session.add(user)
    session.flush()
    key = f"dbk_test_{name}"
    session.add(
        ApiKey(
            user_id=user.id or 0,
            name=name,
            prefix=key[:10],
            key_hash=hash_token(key, get_settings()),
            scopes=scopes,
        )
    )
    session.flush()
    return {"X-API-Key": key}


def test_scope_matrix_every_route(client: TestClient, session: Session) -> None:
    """Deny by default: each route admits exactly the keys holding its scope, and no route more."""
    keys = {"all": _api_key(session, "all", sorted(API_SCOPES)), "none": _api_key(session, "none", [])}
    for scope in sorted(API_SCOPES):
        keys[scope] = _api_key(session, scope.replace(":", "-"), [scope])
        keys[f"all-but-{scope}"] = _api_key(
            session, f"not-{scope.replace(':', '-')}", sorted(API_SCOPES - {scope})
        )
    session.commit()
    failures = []
    for method, path in app_routes():
        if RULES[(method, path)] is PUBLIC or path in ("/api/v1/auth/logout",):
            continue
        needed = SCOPES[(method, path)]
        if needed is None:
            refused, admitted = ["all"], []
        elif needed == "":
            refused, admitted = [], ["none"]
        else:
            refused, admitted = [f"all-but-{needed}", "none"], [needed]
        for name in refused:
            r = _call(client, method, path, keys[name])
            if r.status_code != 403:
                failures.append(f"{method} {path} with key {name}: expected 403, got {r.status_code}")
        for name in admitted:
            r = _call(client, method, path, keys[name])
            if r.status_code in (401, 403) or r.status_code >= 500:
                failures.append(
                    f"{method} {path} with key {name}: admitted expected, got {r.status_code} {r.text[:120]}"
                )
    assert failures == [], "\n".join(failures)


def test_webhooks_key_reads_no_assignments_or_users(client: TestClient, session: Session) -> None:
    headers = _api_key(session, "hooks", ["webhooks:manage"])
    session.commit()
    for path in (
        "/api/v1/assignments",
        "/api/v1/assignments/1",
        "/api/v1/users",
        "/api/v1/users/1",
        "/api/v1/tasks",
    ):
        r = client.get(path, headers=headers)
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "auth.scope_required"
    assert client.get("/api/v1/webhooks", headers=headers).status_code == 200


def test_admin_cannot_give_a_person_the_service_role(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    admin = make_user(session, roles=["admin"])
    person = make_user(session, roles=["office"])
    session.commit()
    h = auth_headers(admin, clock)
    r = client.post(
        "/api/v1/users",
        json={"username": "sneaky", "password": "long-enough-1", "roles": ["service"]},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "user.reserved_role"
    assert "服务账号" in r.json()["error"]["message"]
    r = client.patch(f"/api/v1/users/{person.id}", json={"roles": ["office", "service"]}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "user.reserved_role"
    session.refresh(person)
    assert person.roles == ["office"]
