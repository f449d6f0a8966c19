# ruff: noqa: F811  (the fixtures of test_hot_reads, imported)
"""The plan dashboard's cached path (api.stats.router.plan_stats): on the event loop, from bytes.

Against a committed database as in test_hot_reads: on PostgreSQL a cached summary is the plan's
one statement (with the principal's and the cache's checks) and bytes kept with the cache entry,
no threadpool hop; on SQLite the same route takes the sync path. Every body is compared byte for
byte with what `plan_summary` computes afresh for the same viewer.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api import hotpath
from api.http import json_response
from api.stats import cache as stats_cache
from api.stats import service
from duban.models import Plan, User
from tests.api.conftest import Served
from tests.api.test_hot_reads import API, World, headers, sync_statements, world  # noqa: F401

ROLES = ["office", "leader", "head_a", "staff_a", "staff_empty"]


def _plan_id(served: Served) -> int:
    with Session(served.engine) as s:
        plan = s.exec(select(Plan)).one()
        return plan.id or 0


def fresh(served: Served, user_id: int, plan_id: int) -> bytes:
    """What the route answered before the cached path: plan_summary on a session, the cache empty."""
    stats_cache.clear()
    with Session(served.engine) as s:
        user, plan = s.get(User, user_id), s.get(Plan, plan_id)
        assert user is not None and plan is not None
        body = service.plan_summary(s, plan=plan, user=user, now=served.clock.now())
        return bytes(json_response(body).body)


@pytest.mark.parametrize("who", ROLES)
def test_cached_bodies_are_the_computed_ones_for_every_role(served: Served, world: World, who: str) -> None:
    plan_id = _plan_id(served)
    url = f"{API}/stats/plans/{plan_id}"
    expected = fresh(served, world.users[who].id or 0, plan_id)
    first = served.client.get(url, headers=headers(served, world, who))
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    assert first.content == expected
    hits, ran = stats_cache.counts["hit"], hotpath.statements_run
    with sync_statements(served.engine) as sync:
        again = served.client.get(url, headers=headers(served, world, who))
    assert again.status_code == 200 and again.content == expected
    if who == "staff_empty":  # no rows to keep (api.stats.cache.remember): computed each time
        return
    assert stats_cache.counts["hit"] == hits + 1
    if served.backend == "postgresql" and not served.threaded:
        # The plan's statement alone, on the async driver; nothing on the sync pool.
        assert hotpath.statements_run == ran + 1
        assert sync == []


def test_units_see_their_own_figures_from_the_cache(served: Served, world: World) -> None:
    plan_id = _plan_id(served)
    url = f"{API}/stats/plans/{plan_id}"
    bodies: dict[str, set[int]] = {}
    for _ in range(2):  # computed, then cached: a viewer's scope is part of the entry's key
        for who in ROLES:
            r = served.client.get(url, headers=headers(served, world, who))
            assert r.status_code == 200, r.text
            bodies.setdefault(who, set()).add(r.json()["total"])
    assert bodies == {"office": {14}, "leader": {14}, "head_a": {7}, "staff_a": {7}, "staff_empty": {0}}


def test_a_write_or_a_disabled_viewer_ends_the_cached_answer(served: Served, world: World) -> None:
    plan_id = _plan_id(served)
    url = f"{API}/stats/plans/{plan_id}"
    office = headers(served, world, "office")
    before = served.client.get(url, headers=office)
    assert served.client.get(url, headers=office).content == before.content  # cached
    # 签收 through the api: the plan's generation moves, the next answer is computed again.
    r = served.client.post(
        f"{API}/assignments/{world.a_ids[1]}/accept", headers=headers(served, world, "head_a")
    )
    assert r.status_code == 200, r.text
    after = served.client.get(url, headers=office)
    assert after.json()["states"]["accepted"] == before.json()["states"]["accepted"] + 1
    assert after.content == fresh(served, world.users["office"].id or 0, plan_id)
    # The principal is checked in the plan's statement: a disabled viewer gets no cached figures.
    assert served.client.get(url, headers=office).status_code == 200
    with Session(served.engine) as s:
        s.execute(sa.update(User).where(col(User.id) == world.users["office"].id).values(is_active=False))
        s.commit()
    assert served.client.get(url, headers=office).status_code == 401
