"""The webhook management routes: rotate with an overlap, ping, the delivery log, redelivery, limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from duban.clock import FixedClock
from duban.settings import Settings, get_settings
from notifier import claim, deliver, fanout
from tests.api.conftest import AsRole
from tests.notifier.conftest import Receiver, start_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server = start_receiver()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)


def deliver_all(session: Session, clock: FixedClock) -> None:
    settings = Settings(webhook_allow_private=True)
    with deliver.make_client(settings) as client:
        d = deliver.Deliverer(settings=settings, client=client)
        while fanout.fan_out(session, now=clock.now(), settings=settings).events:
            pass
        while batch := claim.claim(session, now=clock.now(), limit=50, lease_seconds=120):
            for did, attempts in batch:
                deliver.deliver_one(session, did, attempts, now=clock.now(), deliverer=d)


def test_rotate_ping_log_redeliver(
    client: TestClient,
    as_role: AsRole,
    session: Session,
    clock: FixedClock,
    receiver: Receiver,
    allow_private: None,
) -> None:
    office = as_role("office")
    created = client.post("/api/v1/webhooks", json={"url": receiver.url + "/oa"}, headers=office).json()
    wid = created["id"]
    assert created["rate_limit_per_minute"] == 0  # webhooks: no limit unless the office sets one

    rotated = client.post(f"/api/v1/webhooks/{wid}/secret/rotate", json={"overlap_hours": 2}, headers=office)
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    assert body["previous_secret_expires_at"].startswith(
        (clock.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )

    ping = client.post(f"/api/v1/webhooks/{wid}/ping", headers=office)
    assert ping.status_code == 202, ping.text
    receiver.respond = lambda r: (500, {"x-oa": "down"}, b"maintenance " * 500)
    deliver_all(session, clock)
    assert receiver.ids() == [ping.json()["message_id"]]

    log = client.get(f"/api/v1/webhooks/{wid}/deliveries", headers=office)
    assert log.status_code == 200, log.text
    (entry,) = log.json()["items"]
    assert entry["message_id"] == ping.json()["message_id"] and entry["event_type"] == "webhook.ping"
    assert entry["status_code"] == 500 and entry["succeeded"] is False
    assert entry["request_headers"]["webhook-signature"].count("v1,") == 2  # inside the overlap
    assert '"webhook.ping"' in entry["request_body"]
    assert entry["response_headers"]["x-oa"] == "down" and len(entry["response_body"]) == 2048
    assert entry["duration_ms"] >= 0 and entry["url"] == receiver.url + "/oa"
    assert (
        client.get(f"/api/v1/webhooks/{wid}/deliveries?succeeded=true", headers=office).json()["items"] == []
    )

    # In flight (pending its retry): not redelivered by hand.
    one = {"message_id": ping.json()["message_id"]}
    busy = client.post(f"/api/v1/webhooks/{wid}/redeliver", json=one, headers=office)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "delivery.in_flight"
    receiver.respond = lambda r: (200, {}, b"ok")
    clock.advance(timedelta(seconds=10))
    deliver_all(session, clock)
    again = client.post(f"/api/v1/webhooks/{wid}/redeliver", json=one, headers=office)
    assert again.status_code == 200 and again.json() == {"requeued": 1, "message_ids": [one["message_id"]]}
    deliver_all(session, clock)
    assert receiver.ids() == [one["message_id"]] * 3

    since = (clock.now() - timedelta(hours=1)).isoformat()
    ranged = client.post(f"/api/v1/webhooks/{wid}/redeliver", json={"since": since}, headers=office)
    assert ranged.json()["requeued"] == 0  # nothing failed in the range
    ranged = client.post(
        f"/api/v1/webhooks/{wid}/redeliver", json={"since": since, "include_sent": True}, headers=office
    )
    assert ranged.json()["requeued"] == 1
    bad = client.post(f"/api/v1/webhooks/{wid}/redeliver", json={}, headers=office)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "webhook.redeliver_what"


def test_robot_limits_and_filters(client: TestClient, as_role: AsRole, allow_private: None) -> None:
    office = as_role("office")
    robot = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1/cgi-bin/webhook/send?key=k", "kind": "wecom"},
        headers=office,
    )
    assert robot.status_code == 201 and robot.json()["rate_limit_per_minute"] == 20
    too_many = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1/send?key=k", "kind": "wecom", "rate_limit_per_minute": 30},
        headers=office,
    )
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "webhook.rate_limit_too_high"
    rotate = client.post(f"/api/v1/webhooks/{robot.json()['id']}/secret/rotate", json={}, headers=office)
    assert rotate.status_code == 409
    listed = client.get("/api/v1/webhooks?plan_id=999999", headers=office).json()["items"]
    assert listed == []
    for role in ("unit_head", "leader", "viewer"):
        h = as_role(role)
        assert client.post(f"/api/v1/webhooks/{robot.json()['id']}/ping", headers=h).status_code == 403
        assert client.get(f"/api/v1/webhooks/{robot.json()['id']}/deliveries", headers=h).status_code == 403
