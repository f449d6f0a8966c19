"""Every write route, fed malformed bodies, answers 4xx in the envelope in Chinese — never a 500."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from duban.clock import FixedClock
from tests.api.authz_rules import RULES
from tests.api.conftest import auth_headers
from tests.api.test_authz_matrix import app_routes
from tests.factories import make_unit, make_user
from tests.language import english_words


def _english(r: Any) -> list[str]:
    """English words in what a person reads of an error: its message and each field's message."""
    if not r.headers.get("content-type", "").startswith("application/json"):
        return []
    err = r.json().get("error") if isinstance(r.json(), dict) else None
    if not err:
        return []
    details = err.get("details") if isinstance(err.get("details"), list) else []
    texts = [err["message"], *(d.get("message", "") for d in details if isinstance(d, dict))]
    return [w for t in texts for w in english_words(str(t))]


BAD_VALUES: list[Any] = [None, "", "x" * 5000, -1, 10**20, 1.5, [], {}, "2025-13-45", "\u0000", True]
RAW_BODIES = [b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"a":' * 50]


def _schema_props(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op = spec["paths"][path][method.lower()]
    content = op.get("requestBody", {}).get("content", {})
    schema = (content.get("application/json") or {}).get("schema") or {}
    ref = schema.get("$ref")
    if ref:
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return dict(schema.get("properties", {}))


def test_malformed_bodies_never_500(client: TestClient, session: Session, clock: FixedClock) -> None:
    unit = make_unit(session)
    users = {
        r: make_user(session, roles=[r], unit_id=unit.id if r.startswith("unit_") else None)
        for r in ("admin", "office", "leader", "unit_head", "unit_staff")
    }
    session.commit()
    spec = client.get("/openapi.json").json()
    failures = []
    for method, path in app_routes():
        if method not in ("POST", "PUT", "PATCH") or path.startswith("/api/v1/auth/"):
            continue
        allowed = RULES.get((method, path), frozenset())
        role = next(
            (r for r in ("admin", "office", "leader", "unit_head", "unit_staff") if r in allowed), None
        )
        if role is None:
            continue
        headers = {**auth_headers(users[role], clock)}
        url = re.sub(r"\{[^}]+\}", "1", path)
        takes_json = "application/json" in spec["paths"][path][method.lower()].get("requestBody", {}).get(
            "content", {}
        )
        for raw in RAW_BODIES:
            r = client.request(
                method, url, content=raw, headers={**headers, "Content-Type": "application/json"}
            )
            # A route that reads no body may ignore it; one that reads JSON must refuse it in the envelope.
            if r.status_code >= 500 or (takes_json and "error" not in r.json()):
                failures.append(f"{method} {path} raw {raw[:20]!r}: {r.status_code} {r.text[:150]}")
            elif _english(r):
                failures.append(f"{method} {path} raw {raw[:20]!r}: English {_english(r)} {r.text[:150]}")
        for name in _schema_props(spec, method, path):
            for value in BAD_VALUES:
                r = client.request(method, url, json={name: value}, headers=headers)
                if r.status_code >= 500:
                    failures.append(
                        f"{method} {path} {name}={str(value)[:20]!r}: {r.status_code} {r.text[:150]}"
                    )
                elif _english(r):
                    failures.append(f"{method} {path} {name}: English {_english(r)} {r.text[:150]}")
    assert failures == [], "\n".join(failures[:30])
