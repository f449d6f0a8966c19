from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import psycopg
from sqlalchemy import MetaData, event
from sqlalchemy.engine import CursorResult, Engine, Result, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine

if TYPE_CHECKING:
    from duban.settings import Settings

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


@dataclass(frozen=True)
class NetworkLimits:
    """How long a PostgreSQL connection may keep us waiting (seconds; 0 means no limit).

    A silent partition (packets dropped, nothing refused) otherwise holds a request until the
    kernel gives up, minutes later. `connect` bounds opening a connection, `response` every wait
    for the server afterwards (the client closes a connection that answered nothing for that long),
    `statement` and `idle_in_transaction` are enforced by the server so a slow statement is
    cancelled there (an error the client sees) before `response` declares the connection dead, and
    a transaction whose client vanished does not keep its locks.
    """

    connect: int = 0
    statement: float = 0
    response: float = 0
    idle_in_transaction: float = 0
    keepalive: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> NetworkLimits:
        return cls(
            connect=settings.db_connect_timeout_seconds,
            statement=settings.db_statement_timeout_seconds,
            response=settings.db_response_timeout_seconds,
            idle_in_transaction=settings.db_idle_in_transaction_timeout_seconds,
            keepalive=settings.db_keepalive_seconds,
        )

    def connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.connect:
            # libpq counts whole seconds and treats anything below 2 as 2.
            args["connect_timeout"] = max(2, int(self.connect))
        options = []
        if self.statement:
            options.append(f"-c statement_timeout={int(self.statement * 1000)}")
        if self.idle_in_transaction:
            options.append(f"-c idle_in_transaction_session_timeout={int(self.idle_in_transaction * 1000)}")
        if options:
            args["options"] = " ".join(options)
        if self.keepalive:
            args.update(
                keepalives=1,
                keepalives_idle=self.keepalive,
                keepalives_interval=max(1, self.keepalive // 3),
                keepalives_count=3,
            )
        if self.response:
            # Unacknowledged data on a dead link: the kernel drops the connection after this.
            args["tcp_user_timeout"] = int(self.response * 1000)
        return args


class _BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends after `response_timeout`.

    All of psycopg's I/O after connecting goes through `Connection.wait`; on expiry the connection
    is closed (its protocol state is unknown), so SQLAlchemy sees a disconnect, discards it and
    recycles the rest of the pool, and the api answers 503 (api.errors).
    """

    response_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is None and self.response_timeout:
            try:
                return super().wait(gen, interval=interval, timeout=self.response_timeout)
            except psycopg.errors._WaitTimeout as exc:
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"no response from the database server within {self.response_timeout:g}s"
                ) from exc
        return super().wait(gen, interval=interval, timeout=timeout)


class BoundedAsyncConnection(psycopg.AsyncConnection[Any]):
    """The async driver's `_BoundedConnection` (api.hotpath's pools): the same bound, the same error."""

    response_timeout: float | None = None

    async def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is None and self.response_timeout:
            try:
                return await super().wait(gen, interval=interval, timeout=self.response_timeout)
            except psycopg.errors._WaitTimeout as exc:
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"no response from the database server within {self.response_timeout:g}s"
                ) from exc
        return await super().wait(gen, interval=interval, timeout=timeout)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    pool_timeout: float = 30,
    null_pool: bool = False,
    echo: bool = False,
    autocommit: bool = False,
    limits: NetworkLimits | None = None,
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
        kwargs.update(
            pool_size=pool_size,
            max_overflow=pool_size if max_overflow is None else max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=1800,
        )
    if limits is not None:
        kwargs["connect_args"] = limits.connect_args()
    engine = create_engine(url, **kwargs)
    if limits is not None and limits.response:
        response = limits.response

        @event.listens_for(engine, "do_connect")
        def _bounded(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
            conn = _BoundedConnection.connect(*cargs, **cparams)
            conn.response_timeout = response
            return conn

    return engine


def engine_from_settings(settings: Settings, *, min_pool_size: int = 0) -> Engine:
    """The process's one pool (an api worker, the notifier), sized and bounded by settings."""
    size = max(settings.db_pool_size, min_pool_size)
    return make_engine(
        settings.database_url,
        pool_size=size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        limits=NetworkLimits.from_settings(settings),
    )


_engine: Engine | None = None
_read_engine: tuple[Engine, Engine] | None = None


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        from duban.settings import get_settings

        _engine = engine_from_settings(get_settings())
    return _engine


def set_engine(engine: Engine | None) -> None:
    global _engine, _read_engine
    _engine = engine
    _read_engine = None


def get_read_engine() -> Engine:
    """The process engine in autocommit mode, on the same pool: a read needs no BEGIN/ROLLBACK.

    With psycopg 3 switching a pooled connection to autocommit and back is a client-side flag
    (no round trip), so reads share the one pool instead of holding a second one.
    SQLite keeps its normal transactions (a read transaction there is free).
    """
    global _read_engine
    base = get_engine()
    if base.dialect.name == "sqlite":
        return base
    if _read_engine is None or _read_engine[0] is not base:
        _read_engine = (base, base.execution_options(isolation_level="AUTOCOMMIT"))
    return _read_engine[1]


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


def is_database_unavailable(exc: BaseException) -> bool:
    """The database did not answer: refused, timed out, dropped, or no pooled connection free."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an INSERT/UPDATE/DELETE matched. Session.execute is typed as returning a plain Result,
    but for DML it is a CursorResult, which is the one that carries rowcount."""
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount


def columns(*attributes: Any) -> tuple[InstrumentedAttribute[Any], ...]:
    """Model attributes for a lean column select, typed as the column expressions they are on the
    class (SQLModel annotates them as their Python values, e.g. `int | None`)."""
    return attributes
