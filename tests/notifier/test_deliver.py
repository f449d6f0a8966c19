from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from sqlmodel import Session, col, select
from standardwebhooks import Webhook

from duban.clock import FixedClock
from duban.models import Delivery, DeliveryAttempt, DeliveryStatus, EndpointKind, Notification, OutboxEvent
from duban.outbox import redrive
from duban.settings import Settings
from duban.urlsafety import UnsafeUrl, check_url
from notifier import claim, deliver, fanout
from notifier.scan import scan_deadlines
from tests.notifier.conftest import MailSink, Receiver, add_endpoint, make_world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def run_pass(
    session: Session,
    clock: FixedClock,
    settings: Settings,
    deliverer: deliver.Deliverer | None = None,
    scan: bool = True,
) -> dict[str, int]:
    """What the runner does in one pass, in the test's session."""
    if scan:
        scan_deadlines(session, now=clock.now(), settings=settings)
        session.commit()
    while fanout.fan_out(session, now=clock.now(), settings=settings).events:
        pass
    own = deliverer is None
    deliverer = deliverer or deliver.Deliverer(settings=settings, client=deliver.make_client(settings))
    outcomes: dict[str, int] = {}
    try:
        while batch := claim.claim(session, now=clock.now(), limit=50, lease_seconds=120):
            for did, attempts in batch:
                out = deliver.deliver_one(session, did, attempts, now=clock.now(), deliverer=deliverer)
                outcomes[out] = outcomes.get(out, 0) + 1
    finally:
        if own:
            deliverer.client.close()
    return outcomes


def test_webhook_signed_standard_webhooks(session: Session, settings: Settings, receiver: Receiver) -> None:
    w = make_world(session)
    ep = add_endpoint(session, receiver.url + "/hook", event_types=["assignment.escalated"])
    clock = FixedClock(local(2026, 1, 13, 9))
    out = run_pass(session, clock, settings)
    assert out == {"sent": 2}  # level 1 and level 2, nothing else matches the filter
    wh = Webhook(ep.secret)
    for req in receiver.requests:
        ts = int(req.headers["webhook-timestamp"])
        assert ts == int(clock.now().timestamp())
        # The package's own signer must agree with the header (verify() also checks wall-clock skew,
        # and our clock is fixed in 2026-01).
        expected = wh.sign(req.headers["webhook-id"], datetime.fromtimestamp(ts, tz=UTC), req.body.decode())
        assert req.headers["webhook-signature"] == expected
        body = orjson.loads(req.body)
        assert body["type"] == "assignment.escalated"
        data = body["data"]
        assert data["unit"]["id"] == w.unit.id and data["assignment_id"] == w.assignment.id
        assert data["due_date"] == "2025-12-31" and data["level"] in (1, 2)
        assert data["recipient"]["code"] in ("unit_head", "office")
        assert data["plan"]["name"] and data["task"]["name"]
        assert data["link"] == f"/app/assignments/{w.assignment.id}"
    ids = receiver.ids()
    events = {
        e.message_id
        for e in session.exec(select(OutboxEvent).where(OutboxEvent.type == "assignment.escalated"))
    }
    assert set(ids) == events and len(ids) == 2


def test_webhook_verify_with_the_package_at_real_time(settings: Settings, receiver: Receiver) -> None:
    from duban.signing import new_secret
    from notifier.channels import OutgoingMessage
    from notifier.channels.webhook import WebhookChannel

    secret = new_secret()
    with deliver.make_client(settings) as client:
        res = WebhookChannel(client, now=datetime.now(SH), settings=settings).send(
            OutgoingMessage(
                message_id="msg_x",
                event_type="assignment.overdue",
                target=receiver.url,
                payload={
                    "type": "assignment.overdue",
                    "version": 1,
                    "timestamp": "2026-01-01T00:00:00+08:00",
                    "data": {"a": 1},
                },
                secret=secret,
            )
        )
    assert res.ok
    req = receiver.requests[0]
    assert Webhook(secret).verify(req.body, req.headers) == {
        "type": "assignment.overdue",
        "version": 1,
        "timestamp": "2026-01-01T00:00:00+08:00",
        "data": {"a": 1},
    }


def test_inbox_rows_for_recipients(session: Session, settings: Settings) -> None:
    w = make_world(session)
    clock = FixedClock(local(2026, 1, 13, 9))
    run_pass(session, clock, settings)
    rows = session.exec(select(Notification).where(Notification.type == "assignment.escalated")).all()
    by_user = {r.user_id: r for r in rows}
    assert set(by_user) == {w.head.id, w.office_user.id}
    note = by_user[w.office_user.id]
    assert "督办升级" in note.title and "逾期7个工作日" in note.title
    assert "截止日期：2025年12月31日" in note.body and w.unit.name in note.body
    assert note.link and note.link.endswith(f"/assignments/{w.assignment.id}")
    # Overdue goes to the unit: its head and staff.
    overdue = session.exec(
        select(Notification.user_id).where(Notification.type == "assignment.overdue")
    ).all()
    assert set(overdue) == {w.head.id, w.staff.id}
    run_pass(session, clock, settings)  # nothing twice
    assert len(session.exec(select(Notification)).all()) == len(session.exec(select(Notification)).all())


def test_retry_same_id_then_dead_letter_then_redrive(
    session: Session, settings: Settings, receiver: Receiver
) -> None:
    make_world(session)
    add_endpoint(session, receiver.url, event_types=["assignment.overdue"])
    receiver.respond = lambda r: (500, {}, b"boom")
    clock = FixedClock(local(2026, 1, 2, 9))
    assert run_pass(session, clock, settings) == {"retry": 1}
    delivery = session.exec(select(Delivery).where(Delivery.channel == "webhook")).one()
    assert delivery.status == DeliveryStatus.pending and delivery.attempts == 1
    # Not before the backoff: still waiting.
    assert run_pass(session, clock, settings, scan=False) == {}
    clock.set(delivery.next_attempt_at + timedelta(seconds=1))
    assert run_pass(session, clock, settings, scan=False) == {"retry": 1}
    session.refresh(delivery)
    clock.set(delivery.next_attempt_at + timedelta(seconds=1))
    assert run_pass(session, clock, settings, scan=False) == {"failed": 1}  # max_attempts = 3
    session.refresh(delivery)
    assert delivery.status == DeliveryStatus.failed and delivery.last_error == "HTTP 500"
    ids = receiver.ids()
    assert len(ids) == 3 and len(set(ids)) == 1
    attempts = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)).all()
    assert [a.status_code for a in attempts] == [500, 500, 500] and not any(a.succeeded for a in attempts)
    # The office hears about the dead letter in its inbox.
    assert session.exec(select(OutboxEvent).where(OutboxEvent.type == "delivery.failed")).one()
    run_pass(session, clock, settings, scan=False)
    assert session.exec(select(Notification).where(Notification.type == "delivery.failed")).first()
    # Re-drive: the receiver has recovered.
    receiver.respond = lambda r: (200, {}, b"ok")
    redrive(session, delivery=delivery, now=clock.now())
    session.commit()
    assert run_pass(session, clock, settings, scan=False) == {"sent": 1}
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 4


def test_retry_after_is_honoured(session: Session, settings: Settings, receiver: Receiver) -> None:
    make_world(session)
    add_endpoint(session, receiver.url, event_types=["assignment.overdue"])
    receiver.respond = lambda r: (429, {"Retry-After": "7200"}, b"slow down")
    clock = FixedClock(local(2026, 1, 2, 9))
    run_pass(session, clock, settings)
    delivery = session.exec(select(Delivery).where(Delivery.channel == "webhook")).one()
    assert delivery.next_attempt_at >= clock.now() + timedelta(seconds=7200)


def test_email_over_real_smtp(session: Session, settings: Settings, smtp: tuple[MailSink, int]) -> None:
    sink, port = smtp
    settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    w = make_world(session)
    clock = FixedClock(local(2026, 1, 7, 9))  # level 1 to the unit head
    run_pass(session, clock, settings)
    mails = [m for m in sink.messages if m.rcpt_tos == ["head@example.gov.cn"]]
    subjects = [str(make_header(decode_header(message_from_bytes(m.content)["Subject"]))) for m in mails]
    assert any("督办升级" in s and "逾期3个工作日" in s for s in subjects)
    body = message_from_bytes(mails[0].content).get_payload(decode=True).decode()
    assert w.unit.name in body and "https://duban.example.gov.cn/app/assignments/" in body
    sent = session.exec(select(Delivery).where(Delivery.channel == "email")).all()
    assert sent and all(d.status == DeliveryStatus.sent for d in sent)


def test_quiet_hours_hold_email_not_webhooks(
    session: Session, settings: Settings, smtp: tuple[MailSink, int], receiver: Receiver
) -> None:
    sink, port = smtp
    settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    make_world(session)
    add_endpoint(session, receiver.url, event_types=["assignment.overdue"])
    clock = FixedClock(local(2026, 1, 1, 23, 30))  # overdue since midnight, in quiet hours
    run_pass(session, clock, settings)
    assert len(receiver.requests) == 1 and sink.messages == []
    held = session.exec(select(Delivery).where(Delivery.channel == "email")).all()
    assert held and all(d.status == DeliveryStatus.pending and d.attempts == 0 for d in held)
    assert all(d.next_attempt_at == local(2026, 1, 2, 7, 0) for d in held)
    clock.set(local(2026, 1, 2, 7, 0))
    run_pass(session, clock, settings, scan=False)
    assert len(sink.messages) == len(held)


def test_dingtalk_and_wecom_robots(session: Session, settings: Settings, receiver: Receiver) -> None:
    make_world(session)
    ding = add_endpoint(
        session,
        receiver.url + "/robot/send?access_token=abc",
        kind=EndpointKind.dingtalk,
        secret="SEC0123456789abcdef",
        event_types=["assignment.overdue"],
    )
    add_endpoint(
        session,
        receiver.url + "/cgi-bin/webhook/send?key=k1",
        kind=EndpointKind.wecom,
        secret=None,
        event_types=["assignment.overdue"],
    )
    receiver.respond = lambda r: (200, {"content-type": "application/json"}, b'{"errcode":0,"errmsg":"ok"}')
    clock = FixedClock(local(2026, 1, 2, 9))
    assert run_pass(session, clock, settings) == {"sent": 2}
    by_path = {urllib.parse.urlsplit(r.path).path: r for r in receiver.requests}
    dreq = by_path["/robot/send"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(dreq.path).query)
    ts = query["timestamp"][0]
    assert int(ts) == int(clock.now().timestamp() * 1000) and query["access_token"] == ["abc"]
    expected = base64.b64encode(
        hmac.new(
            ding.secret.encode(),
            f"{ts}\n{ding.secret}".encode(),  # type: ignore[union-attr]
            hashlib.sha256,
        ).digest()
    ).decode()
    assert query["sign"] == [expected]
    dbody = orjson.loads(dreq.body)
    assert dbody["msgtype"] == "markdown" and "逾期提醒" in dbody["markdown"]["title"]
    assert "截止日期：2025年12月31日" in dbody["markdown"]["text"]
    wbody = orjson.loads(by_path["/cgi-bin/webhook/send"].body)
    assert wbody["msgtype"] == "markdown" and "逾期提醒" in wbody["markdown"]["content"]


def test_robot_errcode_is_a_failure(session: Session, settings: Settings, receiver: Receiver) -> None:
    make_world(session)
    add_endpoint(
        session,
        receiver.url + "/send?key=k",
        kind=EndpointKind.wecom,
        secret=None,
        event_types=["assignment.overdue"],
    )
    receiver.respond = lambda r: (200, {}, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    assert run_pass(session, FixedClock(local(2026, 1, 2, 9)), settings) == {"failed": 1}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://localhost/",
        "ftp://example.com/",
        "http://0.0.0.0/",
    ],
)
def test_ssrf_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, allow_private=False)


def test_ssrf_refused_at_send_time(session: Session, settings: Settings, receiver: Receiver) -> None:
    make_world(session)
    add_endpoint(session, receiver.url, event_types=["assignment.overdue"])
    strict = settings.model_copy(update={"webhook_allow_private": False})
    assert run_pass(session, FixedClock(local(2026, 1, 2, 9)), strict) == {"failed": 1}
    assert receiver.requests == []
    d = session.exec(select(Delivery).where(Delivery.channel == "webhook")).one()
    assert d.last_error and d.last_error.startswith("webhook.unsafe_url")


def test_rate_limit_per_endpoint(session: Session, settings: Settings, receiver: Receiver) -> None:
    """An office-set limit, counted in the database: shared by every replica."""
    w = make_world(session)
    from datetime import date

    from tests.factories import make_assignment

    for i in range(4):
        make_assignment(session, unit=w.unit, period=f"r{i}", due_date=date(2025, 12, 31))
    session.commit()
    add_endpoint(session, receiver.url, event_types=["assignment.overdue"], rate=2)
    clock = FixedClock(local(2026, 1, 2, 9))
    # Two deliverers stand for two notifier replicas: the limit is the endpoint's, not theirs.
    replicas = [deliver.Deliverer(settings=settings, client=deliver.make_client(settings)) for _ in range(2)]
    try:
        # A burst of `limit`, then one every 60/limit seconds.
        assert run_pass(session, clock, settings, replicas[0]) == {"sent": 2, "throttled": 3}
        assert run_pass(session, clock, settings, replicas[1], scan=False) == {}
        sent = 2
        for step in range(3):
            clock.advance(timedelta(seconds=30))
            out = run_pass(session, clock, settings, replicas[step % 2], scan=False)
            sent += out.get("sent", 0)
            assert out.get("sent") == 1, out
        assert sent == 5 and len(receiver.requests) == 5
    finally:
        for r in replicas:
            r.client.close()
    assert len(set(receiver.ids())) == 5


def test_scope_and_event_type_filters(session: Session, settings: Settings, receiver: Receiver) -> None:
    w = make_world(session)
    other = make_world(session)
    add_endpoint(session, receiver.url + "/unit", unit_id=w.unit.id, event_types=["assignment.*"])
    add_endpoint(
        session, receiver.url + "/plan", plan_id=other.assignment.plan_id, event_types=["assignment.overdue"]
    )
    add_endpoint(session, receiver.url + "/off", event_types=["report.submitted"])
    run_pass(session, FixedClock(local(2026, 1, 2, 9)), settings)
    paths: dict[str, list[Any]] = {}
    for r in receiver.requests:
        paths.setdefault(r.path, []).append(orjson.loads(r.body)["data"]["unit"]["id"])
    assert set(paths) == {"/unit", "/plan"}
    assert set(paths["/unit"]) == {w.unit.id} and set(paths["/plan"]) == {other.unit.id}


def test_claim_takes_expired_leases(session: Session, settings: Settings, receiver: Receiver) -> None:
    make_world(session)
    add_endpoint(session, receiver.url, event_types=["assignment.overdue"])
    clock = FixedClock(local(2026, 1, 2, 9))
    scan_deadlines(session, now=clock.now(), settings=settings)
    fanout.fan_out(session, now=clock.now(), settings=settings)
    first = claim.claim(session, now=clock.now(), limit=10, lease_seconds=120)
    assert len(first) == 1
    assert claim.claim(session, now=clock.now(), limit=10, lease_seconds=120) == []
    clock.advance(timedelta(seconds=121))  # the claimer died: its lease runs out
    again = claim.claim(session, now=clock.now(), limit=10, lease_seconds=120)
    assert [d for d, _ in again] == [d for d, _ in first] and again[0][1] == 2
    # The first claimer's late result is fenced off.
    with deliver.make_client(settings) as client:
        d = deliver.Deliverer(settings=settings, client=client)
        assert deliver.deliver_one(session, first[0][0], first[0][1], now=clock.now(), deliverer=d) == "lost"
        assert deliver.deliver_one(session, again[0][0], again[0][1], now=clock.now(), deliverer=d) == "sent"
    assert len(receiver.requests) == 1
    assert session.exec(select(col(Delivery.status))).all() == [DeliveryStatus.sent]
