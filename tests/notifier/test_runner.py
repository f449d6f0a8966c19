from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from duban.clock import FixedClock
from duban.db import make_engine
from duban.models import Delivery, DeliveryStatus, Notification, OutboxEvent, ScanRun
from duban.settings import Settings
from notifier.runner import Runner, preview
from tests.notifier.conftest import Receiver, add_endpoint, make_world

SH = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 1, 13, 9, tzinfo=SH)


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("outbox_event", "delivery", "notification", "scan_run", "delivery_attempt")
        }


@pytest.mark.committed
def test_dry_run_changes_nothing_and_once_delivers(
    committed_url: str, settings: Settings, receiver: Receiver
) -> None:
    engine = make_engine(committed_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            make_world(s)
            add_endpoint(s, receiver.url, event_types=["assignment.*"])
        before = _counts(engine)
        out = io.StringIO()
        assert preview(engine=engine, clock=FixedClock(T), settings=settings, out=out) == 0
        text = out.getvalue()
        assert "督办升级" in text and "回调" in text and "未写入数据库，未发送任何消息" in text
        assert _counts(engine) == before and receiver.requests == []

        runner = Runner(engine=engine, clock=FixedClock(T), settings=settings, workers=4)
        assert runner.run(once=True) == 0
        with Session(engine) as s:
            assert s.exec(select(ScanRun)).one().created > 0
            statuses = set(s.exec(select(Delivery.status)).all())
            assert statuses == {DeliveryStatus.sent}
            assert s.exec(select(Notification)).first() is not None
            events = s.exec(select(OutboxEvent).where(OutboxEvent.type.startswith("assignment."))).all()  # type: ignore[attr-defined]
        assert sorted(receiver.ids()) == sorted(e.message_id for e in events)
        # A second pass at the same instant creates and sends nothing new.
        Runner(engine=engine, clock=FixedClock(T), settings=settings, workers=2).run(once=True)
        assert len(receiver.requests) == len(events)
    finally:
        engine.dispose()


@pytest.mark.committed
def test_database_outage_backs_off_with_jitter_and_logs_each_change_once(
    committed_url: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        webhook_allow_private=True,
        notifier_poll_seconds=10,
        notifier_db_backoff_seconds=1,
        notifier_db_backoff_max_seconds=8,
    )
    good = make_engine(committed_url)
    # Nothing listens on port 1: every pass fails at once with a refused connection.
    dead = make_engine("postgresql://postgres@127.0.0.1:1/duban", null_pool=True)
    with Session(good, expire_on_commit=False) as s:
        make_world(s)
        add_endpoint(s, receiver.url, event_types=["assignment.*"])
    waits: list[float] = []
    jitters = iter([0.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])

    def sleep(seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 7:
            runner.engine = good  # the database is back
        return len(waits) == 8  # stop after the pass that follows

    runner = Runner(
        engine=dead,
        clock=FixedClock(T),
        settings=settings,
        workers=2,
        sleep=sleep,
        jitter=lambda: next(jitters),
    )
    try:
        with caplog.at_level("INFO", logger="duban.notifier"):
            assert runner.run(once=False) == 0
        # 1, 2, 4, 8, 8 … seconds, each jittered over [d/2, d); then the poll interval again.
        assert waits == [0.5, 2.0, 3.0, 4.0, 4.0, 4.0, 4.0, 10]
        messages = [r.getMessage() for r in caplog.records if r.name == "duban.notifier"]
        assert messages.count("database unavailable; backing off") == 1
        assert messages.count("database available again") == 1
        assert messages.count("notifier pass") == 1 and len(messages) == 3, messages
        up = next(r for r in caplog.records if r.getMessage() == "database available again")
        assert up.failed_passes == 7  # type: ignore[attr-defined]
        assert receiver.requests  # it delivered once the database was back
    finally:
        good.dispose()
        dead.dispose()
