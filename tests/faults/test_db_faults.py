"""Real `duban api` and `duban notifier run` processes with the fault proxy between them and
PostgreSQL: silent partitions and refused connections answer 503 with Retry-After within a bound,
nothing hangs, everything recovers without a restart, and nothing committed is lost."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from duban.db import make_engine
from duban.models import OutboxEvent
from tests.e2e.conftest import BIN, duban, duban_env, free_port, wait_until_up
from tests.faults.proxy import FaultProxy
from tests.notifier.conftest import add_endpoint, start_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.committed, pytest.mark.postgresql_only]

# Short bounds for the test processes (production defaults: README); a request may meet a pool
# wait, a connection attempt and one round trip: 2 + 2 + 2 s at worst.
FAULT_ENV = {
    "DUBAN_DB_POOL_SIZE": "4",
    "DUBAN_DB_POOL_TIMEOUT_SECONDS": "2",
    "DUBAN_DB_CONNECT_TIMEOUT_SECONDS": "2",
    "DUBAN_DB_STATEMENT_TIMEOUT_SECONDS": "1",
    "DUBAN_DB_RESPONSE_TIMEOUT_SECONDS": "2",
    "DUBAN_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": "5",
    "DUBAN_READYZ_TIMEOUT_SECONDS": "1",
    "DUBAN_SECRET_KEY": "fault-suite-" + "k" * 32,
}
BOUND = 10.0  # the promise: every request answered within 10 s during a partition


@dataclass
class Answer:
    status: int
    seconds: float
    retry_after: str | None
    code: str | None


def start_api(
    env: dict[str, str], *, workers: int = 1, bin_dir: Path = BIN
) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    proc = subprocess.Popen(
        [str(bin_dir / "duban"), "api", "--port", str(port), "--workers", str(workers), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
    except BaseException:
        stop(proc)
        raise
    return url, proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def api(proxy: FaultProxy, pg_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    env = duban_env(proxy.url_for(pg_url), **FAULT_ENV)
    password = duban(env, "user", "ensure-admin").stdout.split("password ")[1].split()[0]
    url, proc = start_api(env, workers=2)
    try:
        token = httpx.post(
            url + "/api/v1/auth/token", data={"username": "admin", "password": password}, timeout=10
        ).json()["access_token"]
        yield url, {"Authorization": f"Bearer {token}"}
    finally:
        stop(proc)


def call(client: httpx.Client, method: str, path: str, **kw: object) -> Answer:
    start = time.monotonic()
    try:
        r = client.request(method, path, **kw)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        return Answer(0, time.monotonic() - start, None, "client.timeout")
    code = (
        r.json().get("error", {}).get("code") if r.headers.get("content-type") == "application/json" else None
    )
    return Answer(r.status_code, time.monotonic() - start, r.headers.get("retry-after"), code)


def burst(url: str, headers: dict[str, str], n: int) -> list[Answer]:
    """n concurrent requests of every kind: reads, writes, idempotent writes, readiness."""
    kinds: list[Callable[[httpx.Client, int], Answer]] = [
        lambda c, i: call(c, "GET", "/api/v1/units", headers=headers),
        lambda c, i: call(
            c, "POST", "/api/v1/units", headers=headers, json={"name": f"分区中{i}", "kind": "department"}
        ),
        lambda c, i: call(
            c,
            "POST",
            "/api/v1/units",
            headers={**headers, "Idempotency-Key": f"fault-{i}"},
            json={"name": f"幂等{i}", "kind": "department"},
        ),
        lambda c, i: call(c, "GET", "/readyz"),
    ]
    with httpx.Client(base_url=url, timeout=BOUND * 3) as client, ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: kinds[i % len(kinds)](client, i), range(n)))


def recover(url: str, headers: dict[str, str], limit: float = 30) -> float:
    start = time.monotonic()
    with httpx.Client(base_url=url, timeout=BOUND) as client:
        while time.monotonic() - start < limit:
            try:
                if client.get("/api/v1/units", headers=headers).status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"the api did not recover within {limit}s after the fault healed")


def unit_names(pg_url: str) -> set[str]:
    engine = make_engine(pg_url, null_pool=True)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT name FROM unit")).scalars())
    finally:
        engine.dispose()


def write_units(url: str, headers: dict[str, str], prefix: str, n: int) -> set[str]:
    names = {f"{prefix}{i}" for i in range(n)}
    with httpx.Client(base_url=url, timeout=BOUND) as client:
        for name in names:
            r = client.post("/api/v1/units", headers=headers, json={"name": name, "kind": "department"})
            assert r.status_code == 201, r.text
    return names


def figures(label: str, answers: list[Answer]) -> str:
    seconds = sorted(a.seconds for a in answers)
    return (
        f"{label}: {len(answers)} requests, median {statistics.median(seconds):.2f}s, "
        f"max {seconds[-1]:.2f}s, statuses {sorted({a.status for a in answers})}"
    )


def assert_all_503(answers: list[Answer]) -> None:
    hung = [a for a in answers if a.status == 0]
    assert not hung, f"{len(hung)} requests unanswered after {BOUND * 3}s"
    assert all(a.seconds < BOUND for a in answers), max(a.seconds for a in answers)
    assert {a.status for a in answers} == {503}, [a for a in answers if a.status != 503][:5]
    assert {a.code for a in answers} == {"database.unavailable"}
    assert all(a.retry_after and int(a.retry_after) > 0 for a in answers)


def test_silent_partition_answers_503_within_the_bound_and_heals(
    api: tuple[str, dict[str, str]], proxy: FaultProxy, pg_url: str
) -> None:
    url, headers = api
    acknowledged = write_units(url, headers, "分区前", 10)

    proxy.black_hole()  # the pooled connections and every new one: packets vanish
    answers = burst(url, headers, 40)
    assert_all_503(answers)
    print("\n" + figures("silent partition", answers))  # noqa: T201

    proxy.heal()
    took = recover(url, headers)
    print(f"recovered {took:.2f}s after the partition healed, no restart")  # noqa: T201
    acknowledged |= write_units(url, headers, "分区后", 3)
    assert acknowledged <= unit_names(pg_url)


def test_refused_connections_answer_503_at_once_and_heal(
    api: tuple[str, dict[str, str]], proxy: FaultProxy, pg_url: str
) -> None:
    url, headers = api
    acknowledged = write_units(url, headers, "宕机前", 5)

    proxy.refuse()  # the database is down: existing connections reset, new ones refused
    answers = burst(url, headers, 40)
    assert_all_503(answers)
    assert max(a.seconds for a in answers) < BOUND / 2  # no network wait: CPU time only
    print("\n" + figures("refused", answers))  # noqa: T201

    proxy.heal()
    took = recover(url, headers)
    print(f"recovered {took:.2f}s after the database came back")  # noqa: T201
    acknowledged |= write_units(url, headers, "宕机后", 3)
    assert acknowledged <= unit_names(pg_url)


def seed_events(pg_url: str, receiver_url: str, prefix: str, n: int) -> list[str]:
    now = datetime.now(UTC)
    engine = make_engine(pg_url, null_pool=True)
    try:
        with Session(engine) as s:
            rows = [
                {
                    "message_id": f"{prefix}_{i:04d}",
                    "type": "instruction.issued",
                    "dedupe_key": f"fault:{prefix}:{i}",
                    "payload": {
                        "type": "instruction.issued",
                        "timestamp": now.isoformat(),
                        "data": {"text": f"请抓紧落实第{i}项"},
                    },
                    "created_at": now,
                }
                for i in range(n)
            ]
            s.execute(sa.insert(OutboxEvent.__table__), rows)  # type: ignore[attr-defined]
            s.commit()
        return [r["message_id"] for r in rows]
    finally:
        engine.dispose()


def test_notifier_survives_a_partition_and_delivers_afterwards(proxy: FaultProxy, pg_url: str) -> None:
    receiver, server = start_receiver()
    engine = make_engine(pg_url, null_pool=True)
    with Session(engine) as s:
        add_endpoint(s, receiver.url + "/hook", rate=1_000_000)
    engine.dispose()
    env = duban_env(
        proxy.url_for(pg_url),
        **FAULT_ENV,
        DUBAN_NOTIFIER_POLL_SECONDS="0.2",
        DUBAN_NOTIFIER_WORKERS="2",
        DUBAN_NOTIFIER_DB_BACKOFF_SECONDS="0.2",
        DUBAN_NOTIFIER_DB_BACKOFF_MAX_SECONDS="1",
    )
    proc = subprocess.Popen(
        [str(BIN / "duban"), "notifier", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:
        before = seed_events(pg_url, receiver.url, "before", 5)
        assert receiver.wait_for(5, timeout=30), "".join(err_lines)

        proxy.black_hole()
        time.sleep(6)  # several failed passes, each bounded by the connection timeouts
        assert proc.poll() is None, "".join(err_lines)
        down = [line for line in err_lines if "database unavailable" in line]
        during = seed_events(pg_url, receiver.url, "during", 5)  # committed directly, not through the proxy

        proxy.heal()
        start = time.monotonic()
        assert receiver.wait_for(10, timeout=30), "".join(err_lines)
        print(f"\nnotifier delivered again {time.monotonic() - start:.2f}s after the heal")  # noqa: T201
        assert set(receiver.ids()) >= set(before) | set(during)
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(15)
        reader.join(5)
        server.shutdown()
        server.server_close()
    assert len(down) == 1, down  # one line when the database went away, not one per pass
    assert sum("database available again" in line for line in err_lines) == 1, err_lines
