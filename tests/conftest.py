from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from duban import migrate
from duban.clock import FixedClock
from duban.db import make_engine

PG_ADMIN_URL = os.environ.get("DUBAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [
    b.strip() for b in os.environ.get("DUBAN_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]

# 2025-12-01 09:00 Asia/Shanghai: inside the seed plan's last month, a working Monday.
DEFAULT_NOW = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)


# The long tests, started first on each database so that no worker is left running one of them
# alone at the end of the run (xdist hands tests out in collection order).
SLOW_FIRST = (
    "tests/e2e/test_workbench.py",
    "tests/test_event_contract.py",
    "tests/api/test_malformed_bodies.py",
    "tests/api/test_fuzz_openapi.py",
    "tests/faults/",
    "tests/e2e/",
    "tests/api/test_response_contract.py",
    "tests/test_cli_errors.py",
    "tests/test_demo.py",
    "tests/test_first_hour.py",
    "tests/api/test_authz_matrix.py",
    "tests/api/test_partial_patch.py",
    "tests/api/test_assignment_state_machine.py",
)


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by database
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def key(pair: tuple[int, pytest.Item]) -> tuple[int, int, int]:
        index, item = pair
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        # Keep each database's tests together: its session-scoped template is built once.
        group = BACKENDS.index(backend) if backend in BACKENDS else 0
        rank = next((i for i, p in enumerate(SLOW_FIRST) if item.nodeid.startswith(p)), len(SLOW_FIRST))
        return group, rank, index

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


class DatabaseTemplate:
    """One migrated database per backend per test run; tests get cheap copies of it."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self._copies: list[str] = []
        if backend == "sqlite":
            self.path = workdir / "template.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.name = f"duban_tmpl_{uuid.uuid4().hex[:12]}"
            _pg_admin(f'CREATE DATABASE "{self.name}"')
            self.url = _pg_url(self.name)
        migrate.upgrade(self.url)
        if backend == "sqlite":
            # Fold the WAL into the main file so a plain file copy is a complete database.
            with sqlite3.connect(self.path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def fresh_url(self) -> str:
        """A new, committed-to database cloned from the template."""
        if self.backend == "sqlite":
            path = self.workdir / f"db_{uuid.uuid4().hex[:12]}.db"
            shutil.copyfile(self.path, path)
            return f"sqlite:///{path}"
        name = f"duban_t_{uuid.uuid4().hex[:12]}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        self._copies.append(name)
        return _pg_url(name)

    def drop(self, url: str) -> None:
        if self.backend == "postgresql":
            name = url.rsplit("/", 1)[1]
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if name in self._copies:
                self._copies.remove(name)

    def close(self) -> None:
        if self.backend == "postgresql":
            for name in list(self._copies):
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql" and not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is unreachable at " + PG_ADMIN_URL + " and CI=true")
        pytest.skip("PostgreSQL is unreachable")
    return name


@pytest.fixture(scope="session")
def db_template(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplate]:
    template = DatabaseTemplate(backend, tmp_path_factory.mktemp(f"db_{backend}"))
    yield template
    template.close()


@pytest.fixture(scope="session")
def pg_shared_engine(db_template: DatabaseTemplate) -> Iterator[Engine | None]:
    if db_template.backend != "postgresql":
        yield None
        return
    # Its own clone: nothing may stay connected to the template, or cloning it fails.
    url = db_template.fresh_url()
    engine = make_engine(url, pool_size=2)
    yield engine
    engine.dispose()
    db_template.drop(url)


@pytest.fixture
def engine(db_template: DatabaseTemplate, pg_shared_engine: Engine | None) -> Iterator[Engine]:
    """The engine under the per-test session (PostgreSQL: the shared template, rolled back)."""
    if pg_shared_engine is not None:
        yield pg_shared_engine
        return
    url = db_template.fresh_url()
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine, db_template: DatabaseTemplate) -> Iterator[Session]:
    """A session whose commits are undone after the test.

    PostgreSQL: an outer transaction with the session joined through savepoints, so service
    commits stay inside it. SQLite: its own copied database file (the savepoint recipe does
    not isolate on pysqlite).
    """
    if db_template.backend == "postgresql":
        conn = engine.connect()
        trans = conn.begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        yield sess
        sess.close()
        trans.rollback()
        conn.close()
    else:
        sess = Session(engine, expire_on_commit=False)
        yield sess
        sess.close()


@pytest.fixture
def committed_url(db_template: DatabaseTemplate) -> Iterator[str]:
    """A database of its own with real commits, for multi-connection and process tests."""
    url = db_template.fresh_url()
    yield url
    db_template.drop(url)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DEFAULT_NOW)


@pytest.fixture
def now(clock: FixedClock) -> datetime:
    return clock.now()


@pytest.fixture(autouse=True)
def _calendar_per_test() -> Iterator[None]:
    """Every test starts from the package calendar and sees calendar changes at once.

    The process calendar is global (duban.calendar); a test that loads a year, then rolls back,
    must not leave it to the next test — checking the stamp at every transaction guarantees that.
    """
    from duban import calendar, calendar_store

    calendar_store.install(0)
    calendar_store.invalidate()
    calendar.reset()
    yield
    calendar.reset()
