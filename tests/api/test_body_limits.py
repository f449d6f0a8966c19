"""Request bodies are limited before they are read in full: JSON by DUBAN_MAX_BODY_BYTES, uploads by
DUBAN_MAX_UPLOAD_BYTES, both 413 in the error envelope."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from duban.clock import FixedClock
from duban.models import IdempotencyRecord, Plan
from duban.settings import get_settings
from tests.api.conftest import auth_headers
from tests.factories import make_user

MB = 1024 * 1024


@pytest.fixture
def office(session: Session, clock: FixedClock) -> dict[str, str]:
    user = make_user(session, roles=["office"])
    session.commit()
    return auth_headers(user, clock)


def _assert_413(r: Any) -> None:
    assert r.status_code == 413, r.text[:300]
    err = r.json()["error"]
    assert err["code"] == "request.too_large"
    assert err["message"] == "请求内容过大（上限 1 MB）"
    assert err["details"] == {"max_bytes": get_settings().max_body_bytes}


def test_a_60_mb_json_body_is_refused_unread(client: TestClient, office: dict[str, str]) -> None:
    body = b'{"title": "' + b"x" * (60 * MB) + b'", "period_start": "2025-01-01"}'
    start = time.process_time()  # CPU spent, whatever else loads the machine
    r = client.post("/api/v1/plans", content=body, headers={**office, "Content-Type": "application/json"})
    elapsed = time.process_time() - start
    _assert_413(r)
    assert elapsed < 5, elapsed


def test_with_an_idempotency_key_too(client: TestClient, office: dict[str, str]) -> None:
    body = b'{"title": "' + b"x" * (2 * MB) + b'"}'
    headers = {**office, "Content-Type": "application/json", "Idempotency-Key": "k-1"}
    _assert_413(client.post("/api/v1/plans", content=body, headers=headers))


Receive = Callable[[], Awaitable[dict[str, Any]]]


def _post(app: FastAPI, headers: dict[str, str], path: str, receive: Receive) -> tuple[int, bytes]:
    """POST straight into the ASGI app, the body as `receive` gives it; the status and body sent."""
    status = 0
    out = b""

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, out
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            out += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    return status, out


def _drive(app: FastAPI, headers: dict[str, str], path: str, chunks: int) -> tuple[int, bytes, int]:
    """Stream `chunks` MB without Content-Length straight into the ASGI app; how many it read."""
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read >= chunks:
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": b'{"title": "' + b"x" * MB, "more_body": read < chunks}

    status, out = _post(app, headers, path, receive)
    return status, out, read


@pytest.mark.parametrize("idempotency", [False, True])
def test_a_streamed_body_stops_at_the_limit(app: FastAPI, office: dict[str, str], idempotency: bool) -> None:
    headers = {**office, "Content-Type": "application/json"}
    if idempotency:
        headers["Idempotency-Key"] = "stream-1"
    status, body, read = _drive(app, headers, "/api/v1/plans", chunks=60)
    assert status == 413, body[:300]
    assert b"request.too_large" in body
    assert read <= 2  # 1 MB + the first byte past it, not 60 MB


def test_uploads_keep_their_own_limit(client: TestClient, office: dict[str, str]) -> None:
    # 3 MB of plan text is over the JSON limit and under the upload limit: read and judged as a plan.
    text = ("一、总体要求\n" + "这是一段很长的说明文字。" * 100 + "\n") * 500
    data = text.encode()
    assert MB < len(data) < get_settings().max_upload_bytes
    r = client.post(
        "/api/v1/plans/import?dry_run=true",
        files={"file": ("plan.txt", data, "text/plain")},
        headers=office,
    )
    assert r.status_code != 413, r.text[:300]
    too_big = b"x" * (get_settings().max_upload_bytes + 1024 * 1024)
    r = client.post(
        "/api/v1/plans/import", files={"file": ("plan.txt", too_big, "text/plain")}, headers=office
    )
    assert r.status_code == 413 and "error" in r.json()


def _gone_mid_body(app: FastAPI, headers: dict[str, str], path: str) -> tuple[int, bytes]:
    """Half a JSON body, then the client disconnects."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b'{"title": "', "more_body": True}

    return _post(app, headers, path, receive)


@pytest.mark.parametrize("idempotency", [False, True])
def test_a_client_gone_mid_body_writes_nothing(
    app: FastAPI, session: Session, office: dict[str, str], idempotency: bool
) -> None:
    headers = {**office, "Content-Type": "application/json"}
    if idempotency:
        headers["Idempotency-Key"] = "gone-1"
    status, body = _gone_mid_body(app, headers, "/api/v1/plans")
    # No one is left to read an answer; if one is sent it is not a server error.
    assert status < 500, body[:300]
    assert session.exec(select(Plan)).all() == []
    assert session.exec(select(IdempotencyRecord)).all() == []
