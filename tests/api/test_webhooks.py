from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from duban.models import WebhookEndpoint
from duban.settings import get_settings
from tests.api.conftest import AsRole


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)


def test_office_creates_webhook_secret_shown_once(
    client: TestClient, as_role: AsRole, session: Session, allow_private: None
) -> None:
    office = as_role("office")
    r = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["assignment.overdue", "assignment.*"]},
        headers=office,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["secret"].startswith("whsec_") and body["kind"] == "webhook"
    assert session.get(WebhookEndpoint, body["id"]).secret == body["secret"]  # type: ignore[union-attr]
    got = client.get(f"/api/v1/webhooks/{body['id']}", headers=office)
    assert got.status_code == 200 and "secret" not in got.json()
    listed = client.get("/api/v1/webhooks", headers=office).json()["items"]
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    patched = client.patch(
        f"/api/v1/webhooks/{body['id']}",
        json={"is_active": False, "rotate_secret": True},
        headers={**office, "If-Match": got.headers["etag"]},
    )
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert patched.json()["secret"].startswith("whsec_") and patched.json()["secret"] != body["secret"]
    stale = client.patch(
        f"/api/v1/webhooks/{body['id']}",
        json={"description": "x"},
        headers={**office, "If-Match": got.headers["etag"]},
    )
    assert stale.status_code == 412
    assert client.delete(f"/api/v1/webhooks/{body['id']}", headers=office).status_code == 204
    assert client.get(f"/api/v1/webhooks/{body['id']}", headers=office).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/",
        "http://localhost/x",
        "file:///etc/passwd",
    ],
)
def test_ssrf_refused_at_creation(client: TestClient, as_role: AsRole, url: str) -> None:
    r = client.post("/api/v1/webhooks", json={"url": url}, headers=as_role("office"))
    assert r.status_code == 422
    assert r.json()["error"]["code"] in (
        "webhook.unsafe_url",
        "webhook.invalid_url",
        "webhook.unresolvable_url",
    )


def test_ssrf_refused_on_update(client: TestClient, as_role: AsRole, session: Session) -> None:
    ep = WebhookEndpoint(url="https://oa.example.gov.cn/hook", secret="whsec_AAAA")
    session.add(ep)
    session.commit()
    r = client.patch(
        f"/api/v1/webhooks/{ep.id}", json={"url": "http://192.168.1.1/"}, headers=as_role("office")
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "webhook.unsafe_url"


def test_unknown_event_type_and_roles(client: TestClient, as_role: AsRole, allow_private: None) -> None:
    r = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1/", "event_types": ["nope"]},
        headers=as_role("office"),
    )
    assert r.status_code == 422
    for role in ("unit_head", "unit_staff", "leader", "viewer"):
        assert client.get("/api/v1/webhooks", headers=as_role(role)).status_code == 403
        r = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1/"}, headers=as_role(role))
        assert r.status_code == 403
    assert client.get("/api/v1/webhooks", headers=as_role("admin")).status_code == 200


def test_dingtalk_robot_keeps_its_own_secret(
    client: TestClient, as_role: AsRole, allow_private: None
) -> None:
    r = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1/robot/send?access_token=t", "kind": "dingtalk", "secret": "SECabc"},
        headers=as_role("office"),
    )
    assert r.status_code == 201 and r.json()["secret"] == "SECabc"
