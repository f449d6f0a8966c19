"""The batch pipeline: a batch's outcomes recorded in one transaction, the per-endpoint concurrency
cap, event order per (endpoint, assignment) under continuous claiming, and sends that waited too
long put back unsent. Real receivers, both databases; time moves only through the FixedClock."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, col, select

from duban import events
from duban.clock import FixedClock
from duban.db import make_engine
from duban.events import Ref
from duban.models import Delivery, DeliveryAttempt, DeliveryStatus, OutboxEvent
from duban.outbox import enqueue
from duban.settings import Settings
from notifier import claim, deliver, fanout
from notifier.runner import Runner
from tests.factories import make_assignment
from tests.notifier.conftest import Received, Receiver, World, add_endpoint, make_world

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai, outside quiet hours
D = Delivery.__table__  # type: ignore[attr-defined]


def emit(session: Session, w: World, assignment: Any, n: int, now: datetime) -> str:
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
    return row.message_id


def fan_out(session: Session, clock: FixedClock, settings: Settings) -> None:
    while fanout.fan_out(session, now=clock.now(), settings=settings).events:
        pass


def test_mixed_batch_recorded_in_one_transaction(
    session: Session, engine: sa.Engine, settings: Settings, receiver: Receiver
) -> None:
    """sent, retry, failed and a lease lost to another replica, settled by one record() call: one
    commit, one INSERT of the attempts, one UPDATE of the deliveries."""
    w = make_world(session)
    answers = {"/ok": 200, "/retry": 503, "/failed": 400, "/lost": 200}
    eps = {path: add_endpoint(session, receiver.url + path) for path in answers}
    receiver.respond = lambda r: (answers[r.path], {}, b"answer")
    clock = FixedClock(T0)
    emit(session, w, w.assignment, 1, clock.now())
    fan_out(session, clock, settings)
    with deliver.make_client(settings) as client:
        d = deliver.Deliverer(settings=settings, client=client)
        claimed = claim.claim_batch(session, now=clock.now(), limit=10, lease_seconds=120)
        assert len(claimed) == 4 and all(c.endpoint is not None for c in claimed)
        batch = deliver.prepare(session, claimed, now=clock.now(), deliverer=d)
        session.commit()
        deliver.vet(batch.jobs, d)
        for job in batch.jobs:
            deliver.send(job, d, now=clock.now())
        assert len(receiver.requests) == 4
        # Meanwhile our lease on /lost ran out and another replica claimed it (attempt 2).
        lost_id = next(j.delivery.id for j in batch.jobs if j.url.endswith("/lost"))
        session.execute(sa.update(D).where(D.c.id == lost_id).values(attempts=D.c.attempts + 1))
        session.commit()

        statements: list[str] = []
        commits: list[int] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        real_commit = session.commit

        def counting_commit() -> None:
            commits.append(1)
            real_commit()

        event.listen(engine, "before_cursor_execute", seen)
        session.commit = counting_commit  # type: ignore[method-assign]
        try:
            outcomes = deliver.record(session, batch.jobs, now=clock.now(), deliverer=d)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
            session.commit = real_commit  # type: ignore[method-assign]
    by_url = {j.url.rsplit("/", 1)[1]: o for j, o in zip(batch.jobs, outcomes, strict=True)}
    assert by_url == {"ok": "sent", "retry": "retry", "failed": "failed", "lost": "lost"}
    assert len(commits) == 1
    assert sum(s.startswith("INSERT INTO delivery_attempt") for s in statements) == 1
    assert sum(s.lstrip().startswith(("UPDATE delivery ", "WITH settled")) for s in statements) == 1
    rows = {r.endpoint_id: r for r in session.exec(select(Delivery)).all()}
    assert rows[eps["/ok"].id].status == DeliveryStatus.sent and rows[eps["/ok"].id].sent_at == T0
    retrying = rows[eps["/retry"].id]
    assert retrying.status == DeliveryStatus.pending and retrying.next_attempt_at > T0
    assert retrying.last_error == "HTTP 503" and retrying.lease_until is None
    assert rows[eps["/failed"].id].status == DeliveryStatus.failed
    # The other replica's claim stands: still sending, its attempt number, its lease.
    lost = rows[eps["/lost"].id]
    assert lost.status == DeliveryStatus.sending and lost.attempts == 2 and lost.lease_until is not None
    # Every request made is in the log, ours on /lost too (attempt 1).
    logged = {(a.delivery_id, a.attempt, a.status_code) for a in session.exec(select(DeliveryAttempt)).all()}
    assert logged == {(rows[eps[p].id].id, 1, code) for p, code in answers.items()}
    # The dead letter is told to the office, once; endpoint health once per endpoint.
    failed_events = session.exec(select(OutboxEvent).where(OutboxEvent.type == "delivery.failed")).all()
    assert [e.payload["data"]["delivery_id"] for e in failed_events] == [rows[eps["/failed"].id].id]
    for path, ep in eps.items():
        session.refresh(ep)
        assert (ep.failing_since is not None) == (path in ("/retry", "/failed")), path


@pytest.fixture
def committed_engine(committed_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(committed_url)
    yield engine
    engine.dispose()


def _seed(
    engine: sa.Engine, clock: FixedClock, settings: Settings, paths: list[str], url: str, n: int
) -> None:
    """n events of no assignment (nothing holds them back), each to every endpoint in `paths`."""
    with Session(engine, expire_on_commit=False) as s:
        for path in paths:
            add_endpoint(s, url + path)
        rows = [
            {
                "message_id": f"msg_batch_{i:04d}",
                "type": "instruction.issued",
                "dedupe_key": f"batch:{i}",
                "payload": {
                    "type": "instruction.issued",
                    "timestamp": T0.isoformat(),
                    "data": {"text": f"第{i}项"},
                },
                "created_at": T0,
            }
            for i in range(n)
        ]
        s.execute(sa.insert(OutboxEvent.__table__), rows)  # type: ignore[attr-defined]
        s.commit()
        fan_out(s, clock, settings)


@pytest.mark.committed
def test_one_slow_endpoint_takes_at_most_its_cap(
    committed_engine: sa.Engine, settings: Settings, receiver: Receiver
) -> None:
    """Four threads, a cap of two per endpoint: while /slow holds two sends, /fast gets all of its."""
    settings = settings.model_copy(update={"notifier_endpoint_concurrency": 2, "notifier_batch_size": 5})
    clock = FixedClock(T0)
    _seed(committed_engine, clock, settings, ["/slow", "/fast"], receiver.url, 6)
    release = threading.Event()
    lock = threading.Lock()
    inflight = Counter[str]()
    most = Counter[str]()

    def respond(r: Received) -> tuple[int, dict[str, str], bytes]:
        with lock:
            inflight[r.path] += 1
            most[r.path] = max(most[r.path], inflight[r.path])
        if r.path == "/slow":
            release.wait(30)
        with lock:
            inflight[r.path] -= 1
        return 200, {}, b"ok"

    receiver.respond = respond
    runner = Runner(engine=committed_engine, clock=clock, settings=settings, workers=4)
    result: dict[str, int] = {}
    worker = threading.Thread(target=lambda: result.update(runner.deliver_all()))
    worker.start()
    try:
        fast_done = receiver.wait_for(6)
        slow_now = sum(1 for r in receiver.requests if r.path == "/slow")
        with lock:
            assert inflight["/slow"] == 2, inflight
        assert fast_done, "a slow endpoint held up the others"
        assert slow_now == 0  # none of /slow's sends has finished yet
    finally:
        release.set()
        worker.join(60)
        runner.close()
    assert result == {"sent": 12}
    assert most["/slow"] == 2 and most["/fast"] <= 2


@pytest.mark.committed
def test_order_per_assignment_holds_across_overlapping_batches_and_a_retry(
    committed_engine: sa.Engine, settings: Settings, receiver: Receiver
) -> None:
    settings = settings.model_copy(update={"notifier_batch_size": 3, "notifier_max_attempts": 8})
    clock = FixedClock(T0)
    with Session(committed_engine, expire_on_commit=False) as s:
        w = make_world(s)
        assignments = [w.assignment, make_assignment(s, unit=w.unit, period="p2")]
        s.commit()
        add_endpoint(s, receiver.url + "/hook")
        expected: dict[int, list[str]] = {a.id: [] for a in assignments}
        for n in range(8):
            for a in assignments:
                expected[a.id].append(emit(s, w, a, n, clock.now()))
        fan_out(s, clock, settings)
    first_try_fails = {expected[assignments[0].id][3]}
    owner = {m: a for a, ids in expected.items() for m in ids}

    def respond(r: Received) -> tuple[int, dict[str, str], bytes]:
        msg = r.headers["webhook-id"]
        if msg in first_try_fails:
            first_try_fails.discard(msg)
            return 500, {}, b"once"
        return 200, {}, b"ok"

    receiver.respond = respond
    runner = Runner(engine=committed_engine, clock=clock, settings=settings, workers=4)
    try:
        assert runner.deliver_all() == {"sent": 8 + 3, "retry": 1}
        clock.advance(timedelta(seconds=10))  # past the first retry's 5-6 s
        assert runner.deliver_all() == {"sent": 5}
    finally:
        runner.close()
    ids = receiver.ids()
    assert len(ids) == 17 and len(set(ids)) == 16
    for a, msgs in expected.items():
        assert list(dict.fromkeys(m for m in ids if owner[m] == a)) == msgs
    with Session(committed_engine) as s:
        assert set(s.exec(select(col(Delivery.status))).all()) == {DeliveryStatus.sent}


@pytest.mark.committed
def test_a_send_that_waited_past_its_window_goes_back_unsent(
    committed_engine: sa.Engine, settings: Settings, receiver: Receiver
) -> None:
    clock = FixedClock(T0)
    _seed(committed_engine, clock, settings, ["/hook"], receiver.url, 3)
    runner = Runner(engine=committed_engine, clock=clock, settings=settings, workers=2)
    runner.send_within = -1.0  # as if each job had waited longer than the lease allows
    try:
        assert runner.deliver_all() == {"deferred": 3}
    finally:
        runner.close()
    assert receiver.requests == []
    with Session(committed_engine) as s:
        rows = s.exec(select(Delivery)).all()
        assert {(r.status, r.attempts, r.lease_until, r.next_attempt_at) for r in rows} == {
            (DeliveryStatus.pending, 0, None, T0 + deliver.DEFER)
        }
        assert s.exec(select(DeliveryAttempt)).all() == []
