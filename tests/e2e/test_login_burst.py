"""Concurrent login bursts over real HTTP against a real server on PostgreSQL.

The app runs under uvicorn on a loopback port, in this process so its clock is the tests' (the
back-off is asserted to the second without sleeping), on a database of its own with real commits.
Forty requests are released at once by a barrier, each on its own connection; the policy under
test is api/auth/throttle.py's (docs/security.md): a reservation on the address counter and on
the account counter before the password is checked, the limit-reaching failure closing the
account for `login_backoff_seconds`, doubling per further failure, and the address counter far
higher and separate. tests/api/test_login_throttle.py covers the same policy sequentially and at
the service level; this file adds the server, the sockets and the concurrency.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.deps import settings_dep
from api.main import create_app
from duban.clock import FixedClock
from duban.db import make_engine
from duban.models import LoginAttempt
from duban.settings import Settings, get_settings
from tests.e2e.conftest import free_port
from tests.factories import make_user

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql_only]

PASSWORD = "right-password-1"
BURST = 40
ADDRESS_LIMIT = 12


@dataclass
class Server:
    url: str
    clock: FixedClock
    engine: Engine
    app: FastAPI
    settings: Settings

    def use(self, **changes: Any) -> None:
        """Settings for the requests from now on (the login route reads them per request)."""
        settings = self.settings = self.settings.model_copy(update=changes)
        self.app.dependency_overrides[settings_dep] = lambda: settings


@pytest.fixture
def server(backend: str, committed_url: str, clock: FixedClock) -> Iterator[Server]:
    if backend != "postgresql":
        pytest.skip("row locks under real concurrency: PostgreSQL (SQLite serialises every writer)")
    engine = make_engine(committed_url, pool_size=20, max_overflow=0)
    # The default policy.
    settings = get_settings().model_copy(update={"db_pool_size": 20, "db_max_overflow": 0})
    app = create_app()

    @contextmanager
    def sessions(read_only: bool = False) -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    app.state.session_factory = sessions
    app.state.clock = clock
    app.dependency_overrides[settings_dep] = lambda: settings
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", clock, engine, app, settings)
    finally:
        uv.should_exit = True
        thread.join(15)
        engine.dispose()


def _login(url: str, username: str, password: str, *, source: str = "127.0.0.1") -> httpx.Response:
    # Each call its own connection from its own loopback address (the throttle's client address).
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=60) as client:
        return client.post(f"{url}/api/v1/auth/token", data={"username": username, "password": password})


def _burst(url: str, attempts: list[tuple[str, str]], *, source: str) -> list[httpx.Response]:
    barrier = threading.Barrier(len(attempts))
    answers: list[Any] = [None] * len(attempts)

    def one(i: int, username: str, password: str) -> None:
        barrier.wait()
        answers[i] = _login(url, username, password, source=source)

    threads = [threading.Thread(target=one, args=(i, *a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(a is not None for a in answers), "a request went unanswered"
    return answers


def _evaluated(engine: Engine, username: str) -> int:
    """Password checks the server made for `username` (a failure is recorded per check)."""
    with Session(engine) as s:
        return int(s.execute(select(func.count()).where(LoginAttempt.username == username)).scalar_one())


def test_a_burst_on_one_account_is_counted_exactly_and_slows_only_that_account(server: Server) -> None:
    with Session(server.engine) as s:
        for name in ("victim", "colleague"):
            make_user(s, username=name, password=PASSWORD)
        s.commit()
    policy = server.settings
    limit, backoff = policy.login_max_failures, policy.login_backoff_seconds

    answers = _burst(server.url, [("victim", f"guess-{i}") for i in range(BURST)], source="127.0.0.1")
    assert Counter(r.status_code for r in answers) == {401: limit, 429: BURST - limit}
    assert _evaluated(server.engine, "victim") == limit  # the refused ones never reached the password
    for r in answers:
        body = r.json()["error"]
        if r.status_code == 429:
            assert body["code"] == "auth.too_many_attempts"
            assert int(r.headers["Retry-After"]) == body["details"]["retry_after"] == backoff
        else:
            assert body["code"] == "auth.invalid_credentials"

    # The same address, another account: the office behind one NAT keeps working.
    assert _login(server.url, "colleague", PASSWORD).status_code == 200
    assert _login(server.url, "colleague", "typo").status_code == 401

    # The attacked account is slowed, not locked out: refused until the back-off has passed, then
    # the right password works and starts the account afresh.
    slowed = _login(server.url, "victim", PASSWORD)
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) == backoff
    server.clock.advance(timedelta(seconds=backoff - 1))
    assert _login(server.url, "victim", PASSWORD).status_code == 429
    server.clock.advance(timedelta(seconds=1))
    assert _login(server.url, "victim", PASSWORD).status_code == 200

    # A second burst after the back-off of a fresh failure run: the limit holds again, and each
    # failure past it doubles the wait.
    answers = _burst(server.url, [("victim", f"again-{i}") for i in range(BURST)], source="127.0.0.1")
    assert Counter(r.status_code for r in answers) == {401: limit, 429: BURST - limit}
    server.clock.advance(timedelta(seconds=backoff))
    assert _login(server.url, "victim", "one-more-guess").status_code == 401  # failure limit + 1
    doubled = _login(server.url, "victim", PASSWORD)
    assert doubled.status_code == 429 and int(doubled.headers["Retry-After"]) == 2 * backoff


def test_a_burst_over_many_accounts_from_one_address_meets_the_address_limit(server: Server) -> None:
    with Session(server.engine) as s:
        make_user(s, username="elsewhere", password=PASSWORD)
        make_user(s, username="same-desk", password=PASSWORD)
        s.commit()
    # The address limit lowered so that one burst reaches it (default: 200).
    server.use(login_address_max_failures=ADDRESS_LIMIT)
    attempts = [(f"nobody-{i}", "guess") for i in range(BURST)]
    answers = _burst(server.url, attempts, source="127.0.0.3")
    assert Counter(r.status_code for r in answers) == {401: ADDRESS_LIMIT, 429: BURST - ADDRESS_LIMIT}
    # That address is closed for everyone, the right password included; other addresses are not.
    closed = _login(server.url, "same-desk", PASSWORD, source="127.0.0.3")
    assert closed.status_code == 429
    assert int(closed.headers["Retry-After"]) == server.settings.login_backoff_seconds
    assert _login(server.url, "elsewhere", PASSWORD, source="127.0.0.4").status_code == 200


def test_password_checks_hold_no_database_slot(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the burst on the loaded test machine (argon2: 1.2 s a check): the route held one of
    the process's connection slots through the password check, so a dozen logins starved every other
    request, and the cheap refusals answered 503 after the pool wait. Now, with every slot's worth of
    logins stuck inside the check, a request that needs the database is still served."""
    from api.auth import router as auth_router
    from api.auth import service as auth_service

    slots = get_settings().db_pool_size + get_settings().db_max_overflow
    inside, release = threading.Semaphore(0), threading.Event()
    real = auth_service.verify_password

    def stuck_check(password: str, password_hash: str | None) -> bool:
        inside.release()
        release.wait(60)
        return real(password, password_hash)

    monkeypatch.setattr(auth_router, "verify_password", stuck_check, raising=False)
    monkeypatch.setattr(auth_service, "verify_password", stuck_check)  # where the check was before
    with Session(server.engine) as s:
        make_user(s, username="queued", password=PASSWORD)
        s.commit()
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda i=i: answers.append(_login(server.url, f"slow-{i}", "x").status_code))
        for i in range(slots)
    ]
    for t in threads:
        t.start()
    try:
        for _ in range(slots):
            assert inside.acquire(timeout=60), "the logins did not reach the password check"
        # Every slot's worth of requests is inside the check; the database is still reachable.
        started = time.monotonic()
        with httpx.Client(timeout=60) as client:
            r = client.get(f"{server.url}/api/v1/auth/me", headers={"X-API-Key": "dbk_unknown"})
        assert r.status_code == 401, r.text  # looked up in the database, not 503 after the pool wait
        assert time.monotonic() - started < get_settings().db_pool_timeout_seconds
    finally:
        release.set()
        for t in threads:
            t.join(60)
    assert answers == [401] * slots
