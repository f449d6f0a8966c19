from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.main import create_app
from api.security import create_access_token
from duban.clock import FixedClock
from duban.models import Role, Unit, User
from duban.settings import get_settings
from tests.factories import make_unit, make_user


@pytest.fixture
def app(session: Session, clock: FixedClock) -> FastAPI:
    application = create_app()

    @contextmanager
    def test_session() -> Iterator[Session]:
        # Every request shares the test's session; the test owns its lifetime.
        yield session

    application.state.session_factory = test_session
    application.state.clock = clock
    return application


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
