"""The process's one pool and its bounds, against PostgreSQL through the fault proxy."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from duban import db
from duban.settings import Settings
from tests.faults.proxy import FaultProxy

pytestmark = [pytest.mark.committed, pytest.mark.postgresql_only]


def limits_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "environment": "test",
        "db_pool_size": 3,
        "db_pool_timeout_seconds": 0.5,
        "db_connect_timeout_seconds": 2,
        "db_statement_timeout_seconds": 0.5,
        "db_response_timeout_seconds": 1.0,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def engine_through(proxy: FaultProxy, pg_url: str) -> Iterator[Engine]:
    engine = db.engine_from_settings(limits_settings(proxy.url_for(pg_url)))
    yield engine
    engine.dispose()


def _select_one(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


def timed(fn: object) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        fn()  # type: ignore[operator]
    except Exception as exc:
        return time.monotonic() - start, exc
    return time.monotonic() - start, None


def test_reads_share_the_one_pool_in_autocommit(pg_url: str) -> None:
    db.set_engine(db.engine_from_settings(limits_settings(pg_url)))
    try:
        engine, read = db.get_engine(), db.get_read_engine()
        assert read.pool is engine.pool
        with db.session_scope(read_only=True) as s:
            s.execute(text("SELECT 1"))
            raw = s.connection().connection.dbapi_connection
            assert raw is not None and raw.info.transaction_status.name == "IDLE"  # no BEGIN sent
        with db.session_scope() as s:
            s.execute(text("SELECT 1"))
            raw = s.connection().connection.dbapi_connection
            assert raw is not None and raw.info.transaction_status.name == "INTRANS"
        # Many threads, reads and writes: never more connections than the one pool allows.
        barrier = threading.Barrier(8)

        def work(i: int) -> None:
            barrier.wait()
            with db.session_scope(read_only=i % 2 == 0) as s:
                s.execute(text("SELECT pg_sleep(0.1)"))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert engine.pool.checkedin() <= 3  # type: ignore[attr-defined]
    finally:
        db.get_engine().dispose()
        db.set_engine(None)


def test_connection_settings_reach_the_server(pg_url: str) -> None:
    engine = db.engine_from_settings(limits_settings(pg_url, db_idle_in_transaction_timeout_seconds=30))
    try:
        with engine.connect() as conn:
            show = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("statement_timeout", "idle_in_transaction_session_timeout")
            }
            assert show == {"statement_timeout": "500ms", "idle_in_transaction_session_timeout": "30s"}
            raw = conn.connection.dbapi_connection
            assert raw is not None
            sock = socket.socket(fileno=os.dup(raw.pgconn.socket))
            try:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 10
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 1000
            finally:
                sock.close()
            # The server cancels a slow statement; the connection stays usable (not a disconnect).
            elapsed, exc = timed(lambda: conn.execute(text("SELECT pg_sleep(5)")))
            assert isinstance(exc, OperationalError) and not exc.connection_invalidated
            assert elapsed < 3, elapsed
            conn.rollback()
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_migrations_and_plain_engines_have_no_statement_timeout(pg_url: str) -> None:
    engine = db.make_engine(pg_url, null_pool=True)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    finally:
        engine.dispose()


def test_silent_partition_ends_within_the_response_timeout_and_heals(
    proxy: FaultProxy, engine_through: Engine
) -> None:
    assert _select_one(engine_through) == 1
    proxy.black_hole()
    # A pooled connection: the server never answers; the client closes it after 1 s.
    elapsed, exc = timed(lambda: _select_one(engine_through))
    assert isinstance(exc, DBAPIError) and exc.connection_invalidated, exc
    assert 0.9 < elapsed < 3.0, elapsed  # 1 s, plus a busy machine's slack
    # A new connection: accepted, never answered; connect_timeout (2 s) ends it.
    elapsed, exc = timed(lambda: _select_one(engine_through))
    assert isinstance(exc, OperationalError), exc
    assert elapsed < 4.5, elapsed
    proxy.heal()
    assert _select_one(engine_through) == 1


def test_refused_fails_at_once_and_heals(proxy: FaultProxy, engine_through: Engine) -> None:
    assert _select_one(engine_through) == 1
    proxy.refuse()
    for _ in range(2):  # the pooled connection was reset, then a new one is refused
        elapsed, exc = timed(lambda: _select_one(engine_through))
        assert isinstance(exc, OperationalError), exc
        assert elapsed < 1.5, elapsed
    proxy.heal()
    assert _select_one(engine_through) == 1


def test_a_full_pool_times_out(pg_url: str) -> None:
    engine = db.engine_from_settings(limits_settings(pg_url, db_pool_size=1))
    try:
        with engine.connect():
            elapsed, exc = timed(lambda: _select_one(engine))
        assert isinstance(exc, PoolTimeoutError), exc
        assert 0.4 < elapsed < 2.5, elapsed
    finally:
        engine.dispose()


def test_response_must_outlast_statement_timeout() -> None:
    with pytest.raises(ValueError, match="DUBAN_DB_RESPONSE_TIMEOUT_SECONDS"):
        Settings(environment="test", db_statement_timeout_seconds=5, db_response_timeout_seconds=5)


def test_the_async_read_pool_has_the_same_response_bound(proxy: FaultProxy, pg_url: str) -> None:
    """api.hotpath's async connections: a silent partition ends after the response timeout with the
    error the sync pool gives (a disconnect: 503), and a new connection works once healed."""
    import asyncio

    import psycopg

    from api import hotpath

    url = proxy.url_for(pg_url).replace("postgresql+psycopg://", "postgresql://")
    pool = hotpath.Pool(url, limits_settings(url))

    async def select_one() -> int:
        conn = await pool.get()
        try:
            cur = await conn.execute("SELECT 1")
            row = await cur.fetchone()
            return int(row[0]) if row else 0
        finally:
            await pool.put(conn)

    async def scenario() -> None:
        assert await select_one() == 1
        proxy.black_hole()
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match="no response"):
            await select_one()
        assert 0.9 < time.monotonic() - start < 3.0
        proxy.heal()
        assert await select_one() == 1
        await pool.clear()

    asyncio.run(scenario())
