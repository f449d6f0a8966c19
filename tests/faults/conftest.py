from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.faults.proxy import FaultProxy


@pytest.fixture
def pg_url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend != "postgresql":
        pytest.skip("network faults between the app and PostgreSQL: PostgreSQL only")
    url: str = request.getfixturevalue("committed_url")
    return url


@pytest.fixture
def proxy(pg_url: str) -> Iterator[FaultProxy]:
    url = make_url(pg_url)
    p = FaultProxy(upstream=(url.host or "127.0.0.1", url.port or 5432)).start()
    yield p
    p.close()
