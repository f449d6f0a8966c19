from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, create_engine

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
