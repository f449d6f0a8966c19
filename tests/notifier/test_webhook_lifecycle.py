"""Webhook endpoints, complete: secret rotation with an overlap, a receiver down for a day, the failure
window that disables an endpoint (and tells the office), 410 Gone, redelivery, the robots' shared limit.

Time moves only through the FixedClock; every test runs on both databases.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlmodel import Session, col, select
from standardwebhooks import Webhook

from api.webhook import service as webhooks
from duban import events
from duban.clock import FixedClock
from duban.errors import Unprocessable
from duban.events import Ref
from duban.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointKind,
    Notification,
    OutboxEvent,
)
from duban.outbox import enqueue
from duban.settings import Settings
from notifier import claim, deliver, fanout
from tests.factories import make_assignment
from tests.notifier.conftest import MailSink, Received, Receiver, World, add_endpoint, make_world

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai, outside quiet hours


def run_pass(
    session: Session, clock: FixedClock, settings: Settings, deliverer: deliver.Deliverer
) -> dict[str, int]:
    while fanout.fan_out(session, now=clock.now(), settings=settings).events:
        pass
    outcomes: dict[str, int] = {}
    while batch := claim.claim(session, now=clock.now(), limit=50, lease_seconds=120):
        for did, attempts in batch:
            out = deliver.deliver_one(session, did, attempts, now=clock.now(), deliverer=deliverer)
            outcomes[out] = outcomes.get(out, 0) + 1
    return outcomes


def emit(session: Session, w: World, assignment: Any, n: int, now: datetime) -> OutboxEvent:
    """One assignment event, as the api writes it (the payload checked against the catalog)."""
    row = enqueue(
        session,
        event=events.AssignmentAccepted(
            plan=Ref(id=assignment.plan_id, name="计划"),
            task=Ref(id=assignment.task_id, name="任务"),
            unit=Ref(id=w.unit.id, name=w.unit.name),
            assignment_id=assignment.id,
            state="accepted",
            reason=f"第{n}条",
        ),
        now=now,
        plan_id=assignment.plan_id,
        assignment_id=assignment.id,
        unit_id=w.unit.id,
    )
    session.commit()
    return row


def verifies(secret: str, req: Received) -> bool:
    """What Webhook(secret).verify does, without its wall-clock tolerance (our clock is fixed):
    one of the space-separated v1 signatures must be the package's own for this secret."""
    ts = datetime.fromtimestamp(int(req.headers["webhook-timestamp"]), tz=UTC)
    expected = Webhook(secret).sign(req.headers["webhook-id"], ts, req.body.decode())
    return expected in req.headers.get("webhook-signature", "").split(" ")


@pytest.fixture
def wide(settings: Settings) -> Settings:
    """Production retry budget: 8 attempts on the endpoint schedule (about 27.6 hours)."""
    return settings.model_copy(update={"notifier_max_attempts": 8})


@pytest.fixture
def deliverer(wide: Settings) -> Any:
    d = deliver.Deliverer(settings=wide, client=deliver.make_client(wide))
    yield d
    d.client.close()


def test_rotation_loses_no_delivery(
    session: Session, wide: Settings, deliverer: deliver.Deliverer, receiver: Receiver
) -> None:
    w = make_world(session)
    ep = add_endpoint(session, receiver.url)
    old = ep.secret or ""
    clock = FixedClock(T0)
    emit(session, w, w.assignment, 1, clock.now())
    assert run_pass(session, clock, wide, deliverer) == {"sent": 1}

    clock.advance(timedelta(hours=1))
    new = webhooks.rotate_secret(session, actor=w.office_user, endpoint=ep, overlap_hours=24, now=clock.now())
    assert new != old and ep.previous_secret == old
    # During the overlap: two signatures, one per secret.
    for hours in (0, 12, 23):
        at = T0 + timedelta(hours=1 + hours)
        clock.set(at)
        emit(session, w, w.assignment, 2 + hours, at)
        assert run_pass(session, clock, wide, deliverer) == {"sent": 1}
        req = receiver.requests[-1]
        assert len(req.headers["webhook-signature"].split(" ")) == 2
        assert verifies(old, req), "a receiver still on the old secret keeps working"
        assert verifies(new, req), "a receiver on the new secret works from the start"
    # After it: the new secret only.
    clock.set(T0 + timedelta(hours=25, seconds=1))
    emit(session, w, w.assignment, 99, clock.now())
    assert run_pass(session, clock, wide, deliverer) == {"sent": 1}
    last = receiver.requests[-1]
    assert verifies(new, last) and not verifies(old, last)
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    # The delivery log has the request that carried both signatures.
    attempt = session.exec(select(DeliveryAttempt).order_by(col(DeliveryAttempt.id))).all()[1]
    assert attempt.request_headers and attempt.request_headers["webhook-signature"].count("v1,") == 2
    assert attempt.request_body and orjson.loads(attempt.request_body)["type"] == "assignment.accepted"
    # Rotation is audited without the secrets.
    from duban.models import AuditEntry

    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "webhook.rotate_secret")).one()
    assert old not in orjson.dumps(entry.before).decode() and new not in orjson.dumps(entry.after).decode()


def test_receiver_down_for_a_day_gets_everything_in_order_each_id_once(
    session: Session, wide: Settings, deliverer: deliver.Deliverer, receiver: Receiver
) -> None:
    w = make_world(session)
    assignments = [w.assignment] + [make_assignment(session, unit=w.unit, period=f"p{i}") for i in range(2)]
    session.commit()
    ep = add_endpoint(session, receiver.url)
    up_at = T0 + timedelta(days=1)
    clock = FixedClock(T0)
    accepted: list[str] = []

    def respond(req: Received) -> tuple[int, dict[str, str], bytes]:
        if clock.now() < up_at:
            return 503, {}, b"down"
        msg_id = req.headers["webhook-id"]
        if msg_id in accepted:
            return 200, {}, b"duplicate"  # a receiver deduplicating on webhook-id
        accepted.append(msg_id)
        return 200, {}, b"ok"

    receiver.respond = respond
    # Three assignments, one event each every three hours across the day the receiver is down.
    schedule = [T0 + timedelta(hours=3 * k) for k in range(8)]
    expected: dict[int, list[str]] = defaultdict(list)
    for _ in range(500):
        now = clock.now()
        while schedule and schedule[0] <= now:
            at = schedule.pop(0)
            for a in assignments:
                expected[a.id].append(emit(session, w, a, len(expected[a.id]), at).message_id)
        run_pass(session, clock, wide, deliverer)
        pending = session.exec(
            select(Delivery.next_attempt_at).where(col(Delivery.status).in_(["pending", "sending"]))
        ).all()
        if not pending and not schedule:
            break
        # Pending and already due means held behind an earlier message of its assignment.
        future = [t for t in (t if t.tzinfo else t.replace(tzinfo=UTC) for t in pending) if t > now]
        upcoming = future + schedule[:1]
        assert upcoming, "something is pending that nothing will release"
        clock.set(min(upcoming))
    else:
        pytest.fail("the queue never drained")
    assert clock.now() >= up_at
    every = [m for ids in expected.values() for m in ids]
    assert sorted(accepted) == sorted(every) and len(accepted) == len(set(accepted)) == 24
    by_id = {m: a for a, ids in expected.items() for m in ids}
    for a, ids in expected.items():
        assert [m for m in accepted if by_id[m] == a] == ids, "in order per assignment"
    statuses = set(session.exec(select(Delivery.status)).all())
    assert statuses == {DeliveryStatus.sent}
    session.refresh(ep)
    assert ep.is_active and ep.failing_since is None  # back within the window: not disabled


def test_failing_past_the_window_disables_and_tells_the_office(
    session: Session,
    wide: Settings,
    receiver: Receiver,
    smtp: tuple[MailSink, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, port = smtp
    settings = wide.model_copy(
        update={"webhook_disable_after_hours": 36.0, "smtp_host": "127.0.0.1", "smtp_port": port}
    )
    w = make_world(session)
    ep = add_endpoint(session, receiver.url)
    receiver.respond = lambda r: (500, {}, b"broken")
    clock = FixedClock(T0)
    deliverer = deliver.Deliverer(settings=settings, client=deliver.make_client(settings))
    try:
        for hours in range(0, 48, 6):  # an event every 6 hours, every attempt failing
            clock.set(T0 + timedelta(hours=hours))
            emit(session, w, w.assignment, hours, clock.now())
            for _ in range(3):
                run_pass(session, clock, settings, deliverer)
                clock.advance(timedelta(minutes=40))
            session.refresh(ep)
            if hours < 36:
                assert ep.is_active and ep.failing_since == T0, hours
        session.refresh(ep)
        assert not ep.is_active and ep.disabled_at is not None and ep.disabled_at >= T0 + timedelta(hours=36)
        assert ep.disabled_reason and "36小时" in ep.disabled_reason
        told = session.exec(select(OutboxEvent).where(OutboxEvent.type == "webhook.disabled")).one()
        assert told.payload["data"]["endpoint_id"] == ep.id
        notes = session.exec(select(Notification).where(Notification.type == "webhook.disabled")).all()
        assert {n.user_id for n in notes} == {w.office_user.id}
        assert "回调地址已停用" in notes[0].title
        # Nothing further goes to it; its queue is skipped, not lost.
        sent_before = len(receiver.requests)
        clock.set(T0 + timedelta(days=4))  # Friday 09:00 local, after the quiet hours
        run_pass(session, clock, settings, deliverer)
        assert len(receiver.requests) == sent_before
        # And by e-mail (held by the quiet hours if it was disabled at night).
        assert any(m.rcpt_tos == ["office@example.gov.cn"] for m in sink.messages)
        # The receiver is fixed: the office re-enables it and redelivers the whole period.
        receiver.respond = lambda r: (200, {}, b"ok")
        ep, _ = webhooks.update(
            session, actor=w.office_user, endpoint=ep, changes={"is_active": True}, now=clock.now()
        )
        assert ep.failing_since is None and ep.disabled_at is None
        emitted = session.exec(
            select(OutboxEvent.message_id).where(OutboxEvent.type == "assignment.accepted")
        ).all()
        redeliver_since_t0 = functools.partial(
            webhooks.redeliver,
            session,
            actor=w.office_user,
            endpoint=ep,
            message_id=None,
            since=T0,
            until=None,
            now=clock.now(),
        )
        count, _ids = redeliver_since_t0(include_sent=False)
        assert count == len(emitted) == 8
        # A range is bounded: more messages than the cap are refused, and nothing is queued.
        monkeypatch.setattr(webhooks, "REDELIVER_MAX_EVENTS", 3)
        with pytest.raises(Unprocessable) as too_many:
            redeliver_since_t0(include_sent=True)
        assert too_many.value.code == "webhook.range_too_large" and "超过 3 条" in too_many.value.message
        before = len(receiver.requests)
        run_pass(session, clock, settings, deliverer)
        assert sorted(receiver.ids()[before:]) == sorted(emitted)
    finally:
        deliverer.client.close()


def test_gone_disables_at_once(
    session: Session, wide: Settings, deliverer: deliver.Deliverer, receiver: Receiver
) -> None:
    w = make_world(session)
    ep = add_endpoint(session, receiver.url)
    receiver.respond = lambda r: (410, {}, b"gone")
    clock = FixedClock(T0)
    emit(session, w, w.assignment, 1, clock.now())
    emit(session, w, w.assignment, 2, clock.now())
    out = run_pass(session, clock, wide, deliverer)
    assert out == {"failed": 1, "skipped": 1}  # the second one never went
    session.refresh(ep)
    assert not ep.is_active and "410" in (ep.disabled_reason or "")
    assert len(receiver.requests) == 1
    assert session.exec(select(OutboxEvent).where(OutboxEvent.type == "webhook.disabled")).one()


def test_ping_reaches_only_its_endpoint_even_disabled(
    session: Session, wide: Settings, deliverer: deliver.Deliverer, receiver: Receiver
) -> None:
    w = make_world(session)
    ep = add_endpoint(session, receiver.url + "/a", is_active=False)
    add_endpoint(session, receiver.url + "/b")
    clock = FixedClock(T0)
    row = webhooks.ping(session, actor=w.office_user, endpoint=ep, now=clock.now())
    assert run_pass(session, clock, wide, deliverer) == {"sent": 1}
    (req,) = receiver.requests
    assert req.path == "/a" and req.headers["webhook-id"] == row.message_id
    assert orjson.loads(req.body)["type"] == "webhook.ping" and verifies(ep.secret or "", req)
    assert session.exec(select(Notification)).all() == []


def test_one_message_redelivered_with_its_id(
    session: Session, wide: Settings, deliverer: deliver.Deliverer, receiver: Receiver
) -> None:
    w = make_world(session)
    ep = add_endpoint(session, receiver.url)
    clock = FixedClock(T0)
    row = emit(session, w, w.assignment, 1, clock.now())
    run_pass(session, clock, wide, deliverer)
    count, ids = webhooks.redeliver(
        session,
        actor=w.office_user,
        endpoint=ep,
        message_id=row.message_id,
        since=None,
        until=None,
        include_sent=False,
        now=clock.now(),
    )
    assert (count, ids) == (1, [row.message_id])
    run_pass(session, clock, wide, deliverer)
    assert receiver.ids() == [row.message_id, row.message_id]
    attempts = session.exec(select(DeliveryAttempt)).all()
    assert [a.succeeded for a in attempts] == [True, True]


def test_robots_keep_twenty_a_minute_across_replicas(
    session: Session, wide: Settings, receiver: Receiver
) -> None:
    w = make_world(session)
    robot = add_endpoint(
        session, receiver.url + "/send?key=k", kind=EndpointKind.wecom, secret=None, rate=1000
    )
    assert deliver.per_minute(robot) == 20  # the platform's limit, whatever the row says
    receiver.respond = lambda r: (200, {}, b'{"errcode":0}')
    clock = FixedClock(T0)
    for i in range(30):
        emit(session, w, w.assignment, i, clock.now())
    replicas = [deliver.Deliverer(settings=wide, client=deliver.make_client(wide)) for _ in range(2)]
    try:
        for second in range(60):
            clock.set(T0 + timedelta(seconds=second))
            run_pass(session, clock, wide, replicas[second % 2])
        assert len(receiver.requests) == 20  # in the first minute, from both replicas together
        clock.set(T0 + timedelta(seconds=90))
        run_pass(session, clock, wide, replicas[0])
        assert len(receiver.requests) == 21
    finally:
        for r in replicas:
            r.client.close()
