"""Idempotency-Key: per principal, one execution under concurrency, an expiry, never a secret kept."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from api.main import create_app
from duban.clock import FixedClock
from duban.db import make_engine
from duban.models import IdempotencyRecord, Plan
from tests.api.conftest import AsRole, auth_headers
from tests.e2e.conftest import free_port
from tests.factories import make_user

PASSWORD = "right-password-1"
PLAN = {"title": "幂等测试计划", "period_start": "2025-01-01", "period_end": "2025-12-31"}


def _plans(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Plan)).one())


def _records(session: Session) -> list[IdempotencyRecord]:
    session.expire_all()
    return list(session.exec(select(IdempotencyRecord)).all())


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_key_belongs_to_the_user_not_the_token(client: TestClient, session: Session) -> None:
    make_user(session, username="office1", password=PASSWORD, roles=["office"])
    session.commit()
    first = client.post(
        "/api/v1/plans", json=PLAN, headers={**_bearer(client, "office1"), "Idempotency-Key": "k1"}
    )
    assert first.status_code == 201
    # Signed in again (another access token): the same key is the same request.
    again = client.post(
        "/api/v1/plans", json=PLAN, headers={**_bearer(client, "office1"), "Idempotency-Key": "k1"}
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert _plans(session) == 1
    [row] = _records(session)
    assert row.principal.startswith("user:") and row.status_code == 201


def test_another_user_with_the_same_key_is_another_request(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    a, b = as_role("office"), as_role("office")
    assert (
        client.post("/api/v1/plans", json=PLAN, headers={**a, "Idempotency-Key": "shared"}).status_code == 201
    )
    r = client.post("/api/v1/plans", json=PLAN, headers={**b, "Idempotency-Key": "shared"})
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert _plans(session) == 2


def test_same_key_other_body_is_refused(client: TestClient, as_role: AsRole, session: Session) -> None:
    h = {**as_role("office"), "Idempotency-Key": "k2"}
    assert client.post("/api/v1/plans", json=PLAN, headers=h).status_code == 201
    r = client.post("/api/v1/plans", json={**PLAN, "title": "另一个计划"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency.key_reused"
    assert _plans(session) == 1


def test_failures_are_not_kept(client: TestClient, as_role: AsRole, session: Session) -> None:
    h = {**as_role("office"), "Idempotency-Key": "k3"}
    assert client.post("/api/v1/plans", json={"title": ""}, headers=h).status_code == 422
    assert _records(session) == []
    # The corrected request may use the same key.
    assert client.post("/api/v1/plans", json=PLAN, headers=h).status_code == 201


def test_keys_expire(client: TestClient, session: Session, clock: FixedClock) -> None:
    user = make_user(session, roles=["office"])
    session.commit()
    h = {**auth_headers(user, clock), "Idempotency-Key": "k4"}
    assert client.post("/api/v1/plans", json=PLAN, headers=h).status_code == 201
    clock.advance(timedelta(hours=25))
    h = {**auth_headers(user, clock), "Idempotency-Key": "k4"}
    r = client.post("/api/v1/plans", json=PLAN, headers=h)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert _plans(session) == 2
    assert len(_records(session)) == 1  # the expired row went on the way


def test_a_request_in_progress_answers_409_until_its_lease_ends(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    user = make_user(session, roles=["office"])
    body = orjson.dumps(PLAN)
    session.add(
        IdempotencyRecord(
            principal=f"user:{user.id}",
            key="busy",
            method="POST",
            path="/api/v1/plans",
            request_hash=hashlib.sha256(b"\0".join([b"POST", b"/api/v1/plans", b"", body])).hexdigest(),
            created_at=clock.now(),
        )
    )
    session.commit()

    def post() -> Any:
        h = {**auth_headers(user, clock), "Idempotency-Key": "busy", "Content-Type": "application/json"}
        return client.post("/api/v1/plans", content=body, headers=h)

    r = post()
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency.in_progress"
    assert r.headers["retry-after"] == "1"
    assert _plans(session) == 0
    # Still in progress after the lease: its worker died; the next request takes the key over.
    clock.advance(timedelta(minutes=3))
    assert post().status_code == 201
    assert post().headers["idempotent-replayed"] == "true"
    assert _plans(session) == 1


def test_credentials_are_never_stored_or_replayed(
    client: TestClient, session: Session, as_role: AsRole
) -> None:
    make_user(session, username="keys", password=PASSWORD)
    session.commit()
    login = {"username": "keys", "password": PASSWORD}
    r1 = client.post("/api/v1/auth/token", data=login, headers={"Idempotency-Key": "login"})
    r2 = client.post("/api/v1/auth/token", data=login, headers={"Idempotency-Key": "login"})
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["refresh_token"] != r2.json()["refresh_token"]  # executed afresh
    refresh = {"refresh_token": r1.json()["refresh_token"]}
    assert (
        client.post("/api/v1/auth/refresh", json=refresh, headers={"Idempotency-Key": "rt"}).status_code
        == 200
    )
    # Replaying the refresh would hand out the same pair again and bypass reuse detection.
    again = client.post("/api/v1/auth/refresh", json=refresh, headers={"Idempotency-Key": "rt"})
    assert again.status_code == 401 and again.json()["error"]["code"] == "auth.refresh_token_reused"

    admin = {**as_role("admin"), "Idempotency-Key": "svc"}
    body = {"name": "oa-sync", "scopes": ["tasks:read"]}
    created = client.post("/api/v1/service-accounts", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["api_key"].startswith("dbk_")
    assert created.headers["cache-control"] == "no-store"
    retry = client.post("/api/v1/service-accounts", json=body, headers=admin)
    assert retry.status_code == 409 and "api_key" not in retry.text  # ran again: the name is taken
    office = {**as_role("office"), "Idempotency-Key": "hook"}
    made = client.post("/api/v1/webhooks", json={"url": "https://1.1.1.1/hook"}, headers=office)
    assert made.status_code == 201 and made.json()["secret"], made.text
    rows = _records(session)
    assert rows == [], [(r.path, r.status_code) for r in rows]
    stored = b"".join(bytes(r.response_body or b"") for r in rows)
    assert b"dbk_" not in stored and b"rt_" not in stored


# --- real concurrency: threads against a uvicorn on a loopback port, on each database


@contextmanager
def serve(url: str, clock: FixedClock) -> Iterator[str]:
    engine = make_engine(url, pool_size=20)
    app = create_app()

    @contextmanager
    def sessions(read_only: bool = False) -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    app.state.session_factory = sessions
    app.state.clock = clock
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


@pytest.mark.parametrize("n", [16])
def test_concurrent_requests_with_one_key_execute_once(committed_url: str, clock: FixedClock, n: int) -> None:
    engine = make_engine(committed_url)
    with Session(engine, expire_on_commit=False) as s:
        user = make_user(s, roles=["office"])
        s.commit()
        headers = {**auth_headers(user, clock), "Idempotency-Key": "burst"}
    barrier = threading.Barrier(n)
    results: list[tuple[int, str, bool]] = []
    lock = threading.Lock()

    with serve(committed_url, clock) as base:

        def post() -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                barrier.wait()
                r = http.post("/api/v1/plans", json=PLAN, headers=headers)
            code = r.json().get("error", {}).get("code", "") if r.status_code >= 400 else ""
            with lock:
                results.append((r.status_code, code, r.headers.get("idempotent-replayed") == "true"))

        threads = [threading.Thread(target=post) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    with Session(engine) as s:
        plans = s.exec(select(func.count()).select_from(Plan)).one()
    engine.dispose()
    statuses = Counter((status, code, replay) for status, code, replay in results)
    assert len(results) == n
    assert plans == 1, statuses
    assert statuses[(201, "", False)] == 1, statuses
    assert set(statuses) <= {(201, "", False), (201, "", True), (409, "idempotency.in_progress", False)}, (
        statuses
    )
