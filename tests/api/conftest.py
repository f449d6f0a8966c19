from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api import hotpath
from api.main import create_app
from api.openapi import build_openapi
from api.security import create_access_token
from duban import calendar_store, db
from duban.clock import FixedClock
from duban.models import Role, Unit, User
from duban.settings import get_settings
from tests.factories import make_unit, make_user

# create_app() costs 1.5 s of CPU (FastAPI builds every route's dependants): one per worker process
# and per start-up configuration, not one per test. The app keeps no per-test state of its own —
# the fixture below sets the session and the clock — and its middleware are stateless.
_APPS: dict[tuple[Any, ...], FastAPI] = {}


def shared_app() -> FastAPI:
    settings = get_settings()
    key = (tuple(settings.trusted_proxies or ()),)
    application = _APPS.get(key)
    if application is None:
        application = _APPS[key] = create_app()
    else:
        # What create_app does besides building the app.
        calendar_store.install(settings.calendar_check_seconds)
    return application


@functools.cache
def pristine_app() -> FastAPI:
    """An app as create_app() makes it, never handed to a test that may add routes: for the tests
    that read its routes and its OpenAPI document (building that takes seconds of CPU)."""
    return create_app()


@functools.cache
def _openapi_text() -> str:
    return json.dumps(build_openapi(pristine_app()))


def openapi_spec() -> dict[str, Any]:
    """The app's OpenAPI document, built once per worker; a fresh copy for each caller to change."""
    result: dict[str, Any] = json.loads(_openapi_text())
    return result


@pytest.fixture
def app(session: Session, clock: FixedClock) -> Iterator[FastAPI]:
    application = shared_app()
    # A test's dependency overrides are its own (the app outlives it).
    application.dependency_overrides.clear()

    @contextmanager
    def test_session() -> Iterator[Session]:
        # Every request shares the test's session; the test owns its lifetime.
        yield session

    application.state.session_factory = test_session
    application.state.clock = clock
    routes = list(application.router.routes)
    yield application
    application.dependency_overrides.clear()
    # Routes a test adds are its own too: a second parametrisation would add them again.
    if application.router.routes != routes:
        application.router.routes[:] = routes
        application.openapi_schema = None


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def token_for(user: User, clock: FixedClock) -> str:
    token, _ = create_access_token(
        subject=user.id or 0,
        generation=user.token_generation,
        roles=user.roles,
        settings=get_settings(),
        now=clock.now(),
    )
    return token


def auth_headers(user: User, clock: FixedClock) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user, clock)}"}


AsRole = Callable[..., dict[str, str]]


@pytest.fixture
def as_role(session: Session, clock: FixedClock) -> AsRole:
    """`as_role("unit_head", unit=u)` → headers of a fresh user with that role (and unit)."""

    def make(role: str | Role, *, unit: Unit | None = None, **kw: Any) -> dict[str, str]:
        if unit is None and role in (Role.unit_head, Role.unit_staff):
            unit = make_unit(session)
        user = make_user(session, roles=[str(role)], unit_id=unit.id if unit else None, **kw)
        session.commit()
        return auth_headers(user, clock)

    return make


@dataclass
class Served:
    client: TestClient
    engine: Engine
    clock: FixedClock
    backend: str
    threaded: bool


# On PostgreSQL both ways of running the statements: on the async driver's own pool (the default)
# and on the sync pool's connections in a thread (hotpath.THREADED = True).
@pytest.fixture(params=[True, False], ids=["threaded", "async-driver"])
def served(
    request: pytest.FixtureRequest, committed_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    threaded: bool = request.param
    if not threaded and committed_url.startswith("sqlite"):
        pytest.skip("SQLite takes the sync path (the unit of work's, for writes)")
    monkeypatch.setattr(hotpath, "THREADED", threaded)
    engine = db.make_engine(committed_url)
    db.set_engine(engine)
    app = shared_app()
    app.dependency_overrides.clear()
    saved = getattr(app.state, "session_factory", None)
    app.state.session_factory = None  # every request on its own connection, as in production
    app.state.clock = clock
    hotpath.forget_principals()
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Served(client, engine, clock, engine.dialect.name, threaded)
            client.portal.call(hotpath.close_pools)
    finally:
        app.state.session_factory = saved
        hotpath.forget_principals()
        db.set_engine(None)
        engine.dispose()
