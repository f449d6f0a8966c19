"""examples/oa_receiver.py against a real `duban notifier run --once` process: every event verified with
`standardwebhooks` (at real time: the package checks the timestamp), each webhook-id handled once
although one is delivered twice, in order per assignment; a rotated secret keeps it working."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from duban.db import make_engine
from duban.models import Delivery, OutboxEvent, WebhookEndpoint
from duban.outbox import redrive
from duban.signing import new_secret
from tests.e2e.conftest import BIN, duban_env, free_port

ROOT = Path(__file__).resolve().parents[2]
E = OutboxEvent.__table__  # type: ignore[attr-defined]


def start_receiver(port: int, secrets: list[str], out: Path) -> subprocess.Popen[str]:
    args = [sys.executable, str(ROOT / "examples" / "oa_receiver.py"), "--port", str(port), "--out", str(out)]
    for s in secrets:
        args += ["--secret", s]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/stats", timeout=0.5)
            return proc
        except httpx.HTTPError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
    raise RuntimeError("receiver did not start")


def run_notifier(url: str) -> None:
    # No --as-of: the receiver verifies timestamps against the wall clock.
    done = subprocess.run(
        [str(BIN / "duban"), "notifier", "run", "--once"],
        env=duban_env(url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def stats(port: int) -> dict[str, int]:
    return dict(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).json())


def wait_processed(port: int, n: int) -> dict[str, int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s = stats(port)
        if s["processed"] >= n and s["queued"] == 0:
            return s
        time.sleep(0.05)
    return stats(port)


@pytest.mark.e2e
@pytest.mark.committed
def test_example_receiver_against_a_notifier_process(committed_url: str, tmp_path: Path) -> None:
    port = free_port()
    secret = new_secret()
    out = tmp_path / "events.jsonl"
    now = datetime.now(UTC)
    engine = make_engine(committed_url)
    receiver = start_receiver(port, [secret], out)
    try:
        with Session(engine) as s:
            ep = WebhookEndpoint(url=f"http://127.0.0.1:{port}/duban", secret=secret)
            s.add(ep)
            s.commit()
            ep_id = ep.id
            rows = [
                {
                    "message_id": f"msg_oa_{a}_{k}",
                    "type": "instruction.issued",
                    "dedupe_key": f"oa:{a}:{k}",
                    "assignment_id": 1000 + a,
                    "payload": {
                        "type": "instruction.issued",
                        "version": 1,
                        "timestamp": now.isoformat(),
                        "data": {
                            "plan": {"id": 1, "name": "计划"},
                            "task": {"id": 1, "name": "任务"},
                            "instruction_id": a * 10 + k,
                            "text": f"第{a}项第{k}次批示",
                        },
                    },
                    "created_at": now,
                }
                for k in range(5)
                for a in range(4)
            ]
            s.execute(sa.insert(E), rows)
            s.commit()
        run_notifier(committed_url)
        got = wait_processed(port, 20)
        assert got["accepted"] == 20 and got["rejected"] == 0 and got["processed"] == 20, got

        # The same message again (as after a lost answer): answered 200, handled once.
        with Session(engine) as s:
            d = s.exec(select(Delivery).join(OutboxEvent).where(OutboxEvent.message_id == "msg_oa_0_0")).one()
            redrive(s, delivery=d, now=datetime.now(UTC))
            s.commit()
        run_notifier(committed_url)
        assert wait_processed(port, 20)["duplicates"] == 1

        # Rotation: the receiver still holds only the old secret and keeps verifying.
        with Session(engine) as s:
            ep2 = s.get(WebhookEndpoint, ep_id)
            assert ep2 is not None
            ep2.previous_secret, ep2.secret = ep2.secret, new_secret()
            ep2.previous_secret_expires_at = datetime.now(UTC) + timedelta(hours=1)
            s.add(ep2)
            s.execute(
                sa.insert(E),
                [
                    {
                        **rows[0],
                        "message_id": "msg_oa_rotated",
                        "dedupe_key": "oa:rotated",
                        "created_at": datetime.now(UTC),
                    }
                ],
            )
            s.commit()
        run_notifier(committed_url)
        final = wait_processed(port, 21)
        assert final["processed"] == 21 and final["rejected"] == 0, final

        handled = [json.loads(line)["webhook_id"] for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(handled) == len(set(handled)) == 21
        for a in range(4):
            assert [h for h in handled if h.startswith(f"msg_oa_{a}_")] == [
                f"msg_oa_{a}_{k}" for k in range(5)
            ]
    finally:
        receiver.terminate()
        receiver.wait(10)
        engine.dispose()
