"""Real `duban notifier run --once` processes against a local receiver: exactly-once across
replicas, and nothing lost when a notifier is killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from duban.db import make_engine
from duban.models import Delivery, DeliveryStatus, OutboxEvent
from tests.e2e.conftest import BIN, duban_env
from tests.notifier.conftest import Receiver, add_endpoint, start_receiver

AS_OF = datetime(2026, 1, 13, 1, 0, tzinfo=UTC)
E = OutboxEvent.__table__  # type: ignore[attr-defined]


def seed_messages(url: str, receiver_url: str, n: int) -> list[str]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            add_endpoint(s, receiver_url + "/hook")  # no rate limit: the default for webhooks
            rows = [
                {
                    "message_id": f"msg_{i:06d}",
                    "type": "instruction.issued",
                    "dedupe_key": f"e2e:{i}",
                    "payload": {
                        "type": "instruction.issued",
                        "timestamp": AS_OF.isoformat(),
                        "data": {"text": f"请抓紧落实第{i}项"},
                    },
                    "created_at": AS_OF,
                }
                for i in range(n)
            ]
            s.execute(sa.insert(E), rows)
            s.commit()
        return [r["message_id"] for r in rows]
    finally:
        engine.dispose()


def statuses(url: str) -> Counter[str]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return Counter(str(x) for x in s.execute(sa.select(Delivery.status)).scalars())  # type: ignore[call-overload]
    finally:
        engine.dispose()


def notifier(env: dict[str, str], as_of: datetime) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "duban"), "notifier", "run", "--once", "--as-of", as_of.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.e2e
@pytest.mark.committed
@pytest.mark.postgresql_only
def test_two_notifiers_deliver_2000_messages_exactly_once(committed_url: str, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("replicas coordinate with FOR UPDATE SKIP LOCKED: PostgreSQL only")
    receiver, server = start_receiver()
    try:
        ids = seed_messages(committed_url, receiver.url, 2000)
        env = duban_env(committed_url, DUBAN_NOTIFIER_BATCH_SIZE="50", DUBAN_NOTIFIER_WORKERS="8")
        procs = [notifier(env, AS_OF) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        got = Counter(receiver.ids())
        assert set(got) == set(ids)
        assert max(got.values()) == 1, [k for k, v in got.items() if v > 1][:5]
        assert statuses(committed_url) == Counter({str(DeliveryStatus.sent): 2000})
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
@pytest.mark.committed
def test_sigkill_mid_run_loses_nothing(committed_url: str) -> None:
    receiver, server = start_receiver()
    base = receiver.respond

    def slow(req: object) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.01)
        return base(req)  # type: ignore[arg-type]

    receiver.respond = slow  # type: ignore[assignment]
    try:
        n = 400
        ids = seed_messages(committed_url, receiver.url, n)
        env = duban_env(
            committed_url,
            DUBAN_NOTIFIER_BATCH_SIZE="20",
            DUBAN_NOTIFIER_WORKERS="4",
            DUBAN_NOTIFIER_LEASE_SECONDS="60",
        )
        first = notifier(env, AS_OF)
        assert receiver.wait_for(50, timeout=60), first.stderr.read() if first.stderr else ""
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert len(set(receiver.ids())) < n  # it really died mid-run
        # Restarted after the dead process's leases ran out (time moves only through --as-of).
        second = notifier(env, AS_OF + timedelta(seconds=61))
        _, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        got = Counter(receiver.ids())
        assert set(got) == set(ids)
        # At-least-once: only messages sent and not yet recorded at the kill may arrive twice, with
        # the same webhook-id — finished sends are recorded a batch (20) at a time, or within 0.2 s,
        # so at most about a batch, with the 4 in flight and those finishing during a record.
        assert sum(v - 1 for v in got.values()) <= 2 * 20 + 4
        assert statuses(committed_url) == Counter({str(DeliveryStatus.sent): n})
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
@pytest.mark.committed
def test_cli_dry_run_prints_and_changes_nothing(committed_url: str) -> None:
    receiver: Receiver
    receiver, server = start_receiver()
    try:
        seed_messages(committed_url, receiver.url, 3)
        env = duban_env(committed_url)
        out = subprocess.run(
            [str(BIN / "duban"), "notifier", "run", "--dry-run", "--as-of", AS_OF.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        rows = [line for line in out.splitlines() if "领导批示" in line]
        assert len(rows) == 3 and all("回调" in r for r in rows), out
        assert "共 3 条" in out
        assert statuses(committed_url) == Counter() and receiver.requests == []
        as_json = subprocess.run(
            [str(BIN / "duban"), "notifier", "run", "--dry-run", "--json", "--as-of", AS_OF.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        messages = json.loads(as_json)["messages"]
        assert [(m["channel"], m["kind"]) for m in messages] == [("webhook", "领导批示")] * 3
        assert sorted(m["summary"] for m in messages) == [f"【领导批示】请抓紧落实第{i}项" for i in range(3)]
        # `| head`: the reader goes away before the preview is written; no traceback, a quiet exit.
        piped = subprocess.Popen(
            [str(BIN / "duban"), "notifier", "run", "--dry-run", "--as-of", AS_OF.isoformat()],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert piped.stdout is not None
        piped.stdout.close()
        _, err = piped.communicate(timeout=60)
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert piped.returncode == 141
        assert statuses(committed_url) == Counter() and receiver.requests == []
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
@pytest.mark.committed
def test_sigterm_finishes_in_flight_work_and_exits(committed_url: str) -> None:
    receiver, server = start_receiver()
    base = receiver.respond

    def slow(req: object) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.01)
        return base(req)  # type: ignore[arg-type]

    receiver.respond = slow  # type: ignore[assignment]
    try:
        ids = seed_messages(committed_url, receiver.url, 300)
        env = duban_env(committed_url, DUBAN_NOTIFIER_BATCH_SIZE="20", DUBAN_NOTIFIER_WORKERS="4")
        proc = subprocess.Popen(
            [str(BIN / "duban"), "notifier", "run", "--as-of", AS_OF.isoformat()],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert receiver.wait_for(30, timeout=60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        done = statuses(committed_url)
        # The claimed batch was delivered and recorded; nothing is left half-done.
        assert str(DeliveryStatus.sending) not in done
        assert done[str(DeliveryStatus.sent)] == len(set(receiver.ids())) < len(ids)
    finally:
        server.shutdown()
        server.server_close()
