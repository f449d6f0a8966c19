from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.main import create_app
from api.openapi import build_openapi
from duban.clock import FixedClock
from tests.api.authz_rules import PUBLIC, ROLES, RULES
from tests.api.conftest import auth_headers
from tests.factories import make_unit, make_user

_METHODS = ("get", "post", "put", "patch", "delete")


def app_routes() -> list[tuple[str, str]]:
    spec = build_openapi(create_app())
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
