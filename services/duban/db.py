from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import MetaData, event
from sqlalchemy.engine import CursorResult, Engine, Result, make_url
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine

# Deterministic constraint names make batch-mode (SQLite) migrations and downgrades reproducible.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` / `sqlite:///` URLs and pick our own drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(
    url: str, *, pool_size: int = 10, null_pool: bool = False, echo: bool = False, autocommit: bool = False
) -> Engine:
    url = normalize_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if autocommit and not is_sqlite(url):
        kwargs["isolation_level"] = "AUTOCOMMIT"
    if is_sqlite(url):
        kwargs["connect_args"] = {"check_same_thread": False}
        if null_pool:
            kwargs["poolclass"] = NullPool
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take control.
        # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
        # waits (busy_timeout) instead of failing with SQLITE_BUSY after another commit.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    if null_pool:
        kwargs["poolclass"] = NullPool
    else:
        # No pre-ping: it costs a round trip per request. A connection that died with a server
        # restart fails one request (503, see api.errors), and SQLAlchemy then discards the pool.
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    return create_engine(url, **kwargs)


_engine: Engine | None = None


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        from duban.settings import get_settings

        _engine = make_engine(get_settings().database_url)
    return _engine


def set_engine(engine: Engine | None) -> None:
    global _engine, _read_engine
    if _read_engine is not None:
        _read_engine.dispose()
    _engine = engine
    _read_engine = None


_read_engine: Engine | None = None


def get_read_engine() -> Engine:
    """A second pool in autocommit mode: a read needs no BEGIN/ROLLBACK round trips.

    A pool of its own (not execution_options on the main one), because switching a pooled
    connection's isolation level on every checkout costs as much as the round trips it saves.
    SQLite keeps its normal transactions (a read transaction there is free).
    """
    global _read_engine
    base = get_engine()
    if base.dialect.name == "sqlite":
        return base
    if _read_engine is None:
        _read_engine = make_engine(str(base.url.render_as_string(hide_password=False)), autocommit=True)
    return _read_engine


@contextmanager
def session_scope(engine: Engine | None = None, *, read_only: bool = False) -> Iterator[Session]:
    """A session that the caller commits; rolled back and closed on the way out."""
    bind = engine or (get_read_engine() if read_only else get_engine())
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an INSERT/UPDATE/DELETE matched. Session.execute is typed as returning a plain Result,
    but for DML it is a CursorResult, which is the one that carries rowcount."""
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount


def columns(*attributes: Any) -> tuple[InstrumentedAttribute[Any], ...]:
    """Model attributes for a lean column select, typed as the column expressions they are on the
    class (SQLModel annotates them as their Python values, e.g. `int | None`)."""
    return attributes
