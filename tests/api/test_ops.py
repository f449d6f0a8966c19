from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, create_engine

from duban.settings import get_settings
from tests.api.conftest import AsRole


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert len(r.headers["x-request-id"]) >= 16


def test_request_id_is_echoed_when_safe(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"


def test_readyz_ok_and_503_when_database_is_down(client: TestClient, app: FastAPI) -> None:
    assert client.get("/readyz").status_code == 200
    dead = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 1}
    )

    @contextmanager
    def broken() -> Iterator[Session]:
        with Session(dead) as s:
            yield s

    app.state.session_factory = broken
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "database.unavailable"
    assert r.headers["retry-after"] == "5"


def test_readyz_answers_within_its_timeout_when_the_database_hangs(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "readyz_timeout_seconds", 0.2)
    release = threading.Event()

    @contextmanager
    def hanging(*_args: object, **_kw: object) -> Iterator[Session]:
        release.wait(10)  # a connection attempt into a silent partition
        raise OperationalError("SELECT 1", {}, Exception("timeout"))
        yield  # pragma: no cover

    client.get("/healthz")  # FastAPI builds its routes on the first request: not part of the wait
    app.state.session_factory = hanging
    try:
        start = time.monotonic()
        r = client.get("/readyz")
        elapsed = time.monotonic() - start
    finally:
        release.set()
    assert r.status_code == 503 and elapsed < 2, elapsed
    assert r.json()["error"] == {
        "code": "database.unavailable",
        "message": "数据库不可用",
        "details": {"error": "timeout", "retry_after": 5},
    }
    assert r.headers["retry-after"] == "5"


def _down(*_args: object, **_kw: object) -> Session:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_pool_timeout_and_disconnects_are_503_never_500(app: FastAPI, client: TestClient) -> None:
    @app.get("/pool-exhausted")
    def pool_exhausted() -> None:
        raise PoolTimeoutError("QueuePool limit of size 10 overflow 0 reached")

    @app.get("/dropped")
    def dropped() -> None:
        raise DBAPIError(
            "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True
        )

    for path in ("/pool-exhausted", "/dropped"):
        r = client.get(path)
        assert r.status_code == 503, (path, r.text)
        assert r.headers["retry-after"] == "5"
        assert r.json()["error"] == {
            "code": "database.unavailable",
            "message": "数据库暂不可用，请稍后重试",
            "details": {"retry_after": 5},
        }


def test_database_down_under_idempotency_key_is_503(
    app: FastAPI, client: TestClient, as_role: AsRole
) -> None:
    headers = as_role("office")
    app.state.session_factory = _down  # the middleware's own lookups fail first
    r = client.post(
        "/api/v1/units",
        json={"name": "县科技局", "kind": "department"},
        headers={**headers, "Idempotency-Key": "k-1"},
    )
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "database.unavailable" and r.headers["retry-after"] == "5"


def test_metrics_count_requests_by_route_and_status(client: TestClient, as_role: AsRole) -> None:
    client.get("/api/v1/units", headers=as_role("viewer"))
    client.get("/api/v1/units")
    text = client.get("/metrics").text
    assert "duban_http_requests_total" in text
    assert 'status="401"' in text and 'status="200"' in text
    assert "duban_http_request_duration_seconds_bucket" in text


def test_unexpected_error_is_500_envelope_with_request_id(app: FastAPI, client: TestClient) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    r = client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
    assert r.status_code == 500
    body = r.json()["error"]
    assert body["code"] == "internal_error" and body["details"]["request_id"] == "req-boom-1"
    assert "kaput" not in r.text


def test_unknown_route_is_404_envelope(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code in (401, 404)
    assert "error" in r.json()


def test_opentelemetry_is_looked_for_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace

    from api.main import create_app

    class InstalledProvider:  # what FastAPI takes for a provider an installation configured
        pass

    monkeypatch.setattr(trace, "get_tracer_provider", InstalledProvider)
    assert not create_app()._native_telemetry.enabled()  # off by default: no per-request lookup
    monkeypatch.setattr(get_settings(), "opentelemetry", True)
    assert create_app()._native_telemetry.enabled()
