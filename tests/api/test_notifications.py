from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from duban.clock import FixedClock
from duban.models import Delivery, DeliveryStatus, Notification, OutboxEvent, Role
from tests.api.conftest import AsRole, auth_headers
from tests.factories import make_plan, make_user


def _event(session: Session, n: int) -> OutboxEvent:
    ev = OutboxEvent(message_id=f"msg_test{n}", type="assignment.overdue", dedupe_key=f"k{n}", payload={})
    session.add(ev)
    session.flush()
    return ev


def test_inbox_unread_cursor_and_read(client: TestClient, session: Session, clock: FixedClock) -> None:
    me = make_user(session, roles=[Role.unit_staff])
    other = make_user(session, roles=[Role.unit_staff])
    for i in range(5):
        ev = _event(session, i)
        session.add(Notification(user_id=me.id, event_id=ev.id, type=ev.type, title=f"通知{i}", body="正文"))
    session.add(Notification(user_id=other.id, event_id=ev.id, type=ev.type, title="别人的", body="x"))
    session.commit()
    h = auth_headers(me, clock)
    assert client.get("/api/v1/notifications/unread-count", headers=h).json() == {"unread": 5}
    page = client.get("/api/v1/notifications", params={"limit": 3}, headers=h).json()
    assert [n["title"] for n in page["items"]] == ["通知4", "通知3", "通知2"] and page["next_cursor"]
    rest = client.get(
        "/api/v1/notifications", params={"limit": 3, "cursor": page["next_cursor"]}, headers=h
    ).json()
    assert [n["title"] for n in rest["items"]] == ["通知1", "通知0"] and rest["next_cursor"] is None
    first = page["items"][0]["id"]
    r = client.post(f"/api/v1/notifications/{first}/read", headers=h)
    assert r.status_code == 200 and r.json()["read_at"]
    unread = client.get("/api/v1/notifications", params={"unread": True}, headers=h).json()["items"]
    assert first not in [n["id"] for n in unread] and len(unread) == 4
    theirs = session.exec(select(Notification).where(Notification.user_id == other.id)).one()
    assert client.post(f"/api/v1/notifications/{theirs.id}/read", headers=h).status_code == 404
    assert client.post("/api/v1/notifications/read-all", headers=h).json() == {"updated": 4}
    assert client.get("/api/v1/notifications/unread-count", headers=h).json() == {"unread": 0}


def test_policy_get_put_validated(client: TestClient, session: Session, as_role: AsRole) -> None:
    plan = make_plan(session)
    session.commit()
    office = as_role("office")
    got = client.get(f"/api/v1/plans/{plan.id}/notification-policy", headers=office).json()
    assert got["config"]["due_soon_working_days"] == [7, 3, 1] and got["override"] == {}
    assert [lv["after_working_days"] for lv in got["config"]["escalation_levels"]] == [3, 7, 15]
    r = client.put(
        f"/api/v1/plans/{plan.id}/notification-policy",
        json={"due_soon_working_days": [5, 2], "quiet_hours": {"start": "21:00", "end": "08:00"}},
        headers=office,
    )
    assert r.status_code == 200, r.text
    assert r.json()["config"]["due_soon_working_days"] == [5, 2]
    assert r.json()["config"]["quiet_hours"] == {"start": "21:00:00", "end": "08:00:00"}
    assert r.json()["config"]["escalation_levels"][1]["recipients"] == ["office"]
    bad = client.put(
        f"/api/v1/plans/{plan.id}/notification-policy", json={"channels": ["fax"]}, headers=office
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "notification_policy.invalid"
    assert (
        client.put(
            f"/api/v1/plans/{plan.id}/notification-policy", json={}, headers=as_role("unit_head")
        ).status_code
        == 403
    )
    assert client.get("/api/v1/plans/999999/notification-policy", headers=office).status_code == 404
    d = client.put("/api/v1/notification-policies/default", json={"digest_enabled": False}, headers=office)
    assert d.status_code == 200 and d.json()["config"]["digest_enabled"] is False


def test_dead_letters_listed_and_redriven(client: TestClient, session: Session, as_role: AsRole) -> None:
    ev = _event(session, 100)
    failed = Delivery(
        event_id=ev.id,
        channel="webhook",
        target="endpoint:1",
        status=DeliveryStatus.failed,
        attempts=8,
        last_error="HTTP 500",
    )
    ok = Delivery(
        event_id=ev.id, channel="email", target="a@example.gov.cn", status=DeliveryStatus.sent, attempts=1
    )
    session.add_all([failed, ok])
    session.commit()
    office = as_role("office")
    items = client.get("/api/v1/deliveries", params={"status": "failed"}, headers=office).json()["items"]
    assert [d["id"] for d in items] == [failed.id] and items[0]["message_id"] == "msg_test100"
    r = client.post(f"/api/v1/deliveries/{failed.id}/redrive", headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and r.json()["attempts"] == 0
    assert client.post(f"/api/v1/deliveries/{ok.id}/redrive", headers=office).status_code == 409
    assert client.get("/api/v1/deliveries", headers=as_role("unit_head")).status_code == 403
    assert client.get(f"/api/v1/deliveries/{failed.id}", headers=office).json()["history"] == []
