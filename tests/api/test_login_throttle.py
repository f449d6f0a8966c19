"""Login throttling per account and per address, atomic under concurrency; trusted proxies only."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api.auth import service
from api.deps import settings_dep
from api.main import create_app
from duban.clock import FixedClock
from duban.db import is_database_unavailable, make_engine
from duban.errors import TooManyRequests, Unauthorized
from duban.models import LoginThrottle
from duban.settings import Settings, get_settings
from tests.factories import make_user

PASSWORD = "right-password-1"


def _login(client: TestClient, username: str, password: str, **headers: str) -> Any:
    return client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}, headers=headers
    )


def _with_settings(app: FastAPI, **changes: Any) -> Settings:
    settings = get_settings().model_copy(update=changes)
    app.dependency_overrides[settings_dep] = lambda: settings
    return settings


def test_one_accounts_typos_do_not_lock_out_the_office(client: TestClient, session: Session) -> None:
    make_user(session, username="typo", password=PASSWORD)
    make_user(session, username="colleague", password=PASSWORD)
    session.commit()
    for _ in range(8):
        assert _login(client, "typo", "wrong-password").status_code in (401, 429)
    # Same address (one NAT): another user's right password still signs in.
    assert _login(client, "colleague", PASSWORD).status_code == 200


def test_account_backoff_grows_and_the_right_password_works_after_it(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    settings = get_settings()
    make_user(session, username="target", password=PASSWORD)
    session.commit()
    for _ in range(settings.login_max_failures):
        assert _login(client, "target", "wrong-password").status_code == 401
    first = _login(client, "target", PASSWORD)
    assert first.status_code == 429 and first.json()["error"]["code"] == "auth.too_many_attempts"
    wait = int(first.headers["retry-after"])
    assert wait == settings.login_backoff_seconds
    clock.advance(timedelta(seconds=wait))
    assert _login(client, "target", "wrong-again").status_code == 401  # one guess per back-off
    second = _login(client, "target", "wrong-again")
    assert second.status_code == 429 and int(second.headers["retry-after"]) == 2 * wait
    clock.advance(timedelta(seconds=2 * wait))
    assert _login(client, "target", PASSWORD).status_code == 200
    # A correct login clears the account's counter.
    assert session.get(LoginThrottle, "account:target") is None
    assert _login(client, "target", "one-typo").status_code == 401


def test_backoff_is_capped(session: Session) -> None:
    from api.auth.throttle import backoff_seconds

    s = get_settings()
    delays = [backoff_seconds(n, limit=5, settings=s) for n in range(5, 40)]
    assert delays == sorted(delays) and delays[0] == s.login_backoff_seconds
    assert max(delays) == s.login_backoff_max_seconds


def test_per_address_limit_is_separate_and_higher(app: FastAPI, client: TestClient, session: Session) -> None:
    settings = _with_settings(app, login_address_max_failures=12)
    make_user(session, username="innocent", password=PASSWORD)
    session.commit()
    # A spray: one guess for each of many accounts, from one address.
    for n in range(settings.login_address_max_failures):
        assert _login(client, f"spray{n}", "guess").status_code == 401
    r = _login(client, "innocent", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_correct_logins_do_not_use_up_the_address(app: FastAPI, client: TestClient, session: Session) -> None:
    _with_settings(app, login_address_max_failures=3)
    make_user(session, username="daily", password=PASSWORD)
    session.commit()
    for _ in range(6):
        assert _login(client, "daily", PASSWORD).status_code == 200
    assert _login(client, "daily", "typo").status_code == 401
    assert _login(client, "daily", PASSWORD).status_code == 200


def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    _with_settings(app, login_address_max_failures=3)
    session.commit()
    for n in range(3):
        # Each guess claims another client address; the peer is what counts.
        assert _login(client, f"who{n}", "guess", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code == 401
    assert _login(client, "who9", "guess", **{"X-Forwarded-For": "203.0.113.99"}).status_code == 429


@pytest.fixture
def proxied_app(session: Session, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setenv("DUBAN_TRUSTED_PROXIES", "10.0.0.0/8")
    get_settings.cache_clear()
    try:
        app = create_app()
    finally:
        monkeypatch.delenv("DUBAN_TRUSTED_PROXIES")
        get_settings.cache_clear()

    def test_session() -> Any:
        from contextlib import nullcontext

        return nullcontext(session)

    app.state.session_factory = test_session
    app.state.clock = clock
    yield app


def test_forwarded_for_from_a_trusted_proxy_names_the_client(proxied_app: FastAPI, session: Session) -> None:
    _with_settings(proxied_app, login_address_max_failures=2)
    with TestClient(proxied_app, client=("10.1.2.3", 40000)) as proxy:
        for _ in range(2):
            assert _login(proxy, "x", "guess", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 401
        assert _login(proxy, "y", "guess", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 429
        # Another client behind the same proxy has its own counter.
        assert _login(proxy, "z", "guess", **{"X-Forwarded-For": "198.51.100.8"}).status_code == 401
    with TestClient(proxied_app, client=("192.0.2.1", 40000)) as stranger:
        # Not a listed proxy: whatever it claims, 192.0.2.1 is the address.
        for n in range(2):
            assert (
                _login(stranger, f"s{n}", "guess", **{"X-Forwarded-For": f"198.51.100.{20 + n}"}).status_code
                == 401
            )
        assert _login(stranger, "s9", "guess", **{"X-Forwarded-For": "198.51.100.99"}).status_code == 429


@pytest.mark.parametrize("kind", ["account", "address"])
def test_concurrent_guesses_get_exactly_the_limit_evaluated(
    committed_url: str, clock: FixedClock, kind: str
) -> None:
    """40 simultaneous wrong guesses, each on its own connection: exactly `limit` are checked."""
    settings = get_settings().model_copy(update={"login_address_max_failures": 7})
    limit = settings.login_max_failures if kind == "account" else settings.login_address_max_failures
    engine = make_engine(committed_url, pool_size=20)
    with Session(engine) as setup:
        make_user(setup, username="victim", password=PASSWORD)
        setup.commit()
    barrier = threading.Barrier(40)
    outcomes: list[str] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        username = "victim" if kind == "account" else f"victim{n}"
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                service.login(
                    s,
                    username=username,
                    password="wrong",
                    address="192.0.2.50",
                    settings=settings,
                    now=clock.now(),
                )
                outcome = "200"
            except Unauthorized:
                outcome = "401"
            except TooManyRequests:
                outcome = "429"
            except OperationalError as exc:
                # SQLite: a writer that waited out busy_timeout (the api answers it 503).
                assert is_database_unavailable(exc) and engine.dialect.name == "sqlite", exc
                outcome = "503"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    engine.dispose()
    counts = Counter(outcomes)
    if counts["503"]:
        # On a machine loaded enough for SQLite writers to time out: never more than the limit
        # evaluated, and every attempt answered.
        assert counts["401"] <= limit and counts["401"] + counts["429"] + counts["503"] == 40, counts
    else:
        assert counts == {"401": limit, "429": 40 - limit}
