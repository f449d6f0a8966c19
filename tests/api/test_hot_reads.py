"""The hot read path (api.hotpath): the assignment list and detail as `async def` routes.

Against a committed database (no shared test session), so that on PostgreSQL the requests run on
the async pool, the principal from the cache checked inside the data statement; on SQLite the same
routes take the sync path. Bodies are compared byte for byte with what the previous sync route
code (`paginate`, `read_row`, `history` on an ORM session) produces for the same user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api import hotpath
from api.assignment import service
from api.http import json_response
from api.pagination import paginate
from duban.models import Unit, User
from tests.api.conftest import Served, auth_headers
from tests.factories import make_assignment, make_plan, make_task, make_unit, make_user

API = "/api/v1"
OPEN = ["assigned", "accepted", "completion_requested", "returned"]


@dataclass
class World:
    a: Unit
    b: Unit
    empty: Unit
    users: dict[str, User]
    a_ids: list[int]
    b_ids: list[int]


@pytest.fixture
def world(served: Served) -> World:
    with Session(served.engine, expire_on_commit=False) as s:
        a, b, empty = (
            make_unit(s, name="县科技局"),
            make_unit(s, name="县招商办"),
            make_unit(s, name="县档案馆"),
        )
        plan = make_plan(s, title="涟水县科技创新行动计划")
        a_ids, b_ids = [], []
        for i in range(7):
            task = make_task(s, plan=plan, title=f"任务{i}", code=str(i))
            # Some overdue, some not, one without a due date: every derived field is exercised.
            due = None if i == 6 else date(2025, 11, 3 + 4 * i)
            a_ids.append(make_assignment(s, task=task, unit=a, due_date=due).id)
            b_ids.append(make_assignment(s, task=task, unit=b, due_date=due).id)
        users = {
            "office": make_user(s, roles=["office"]),
            "leader": make_user(s, roles=["leader"]),
            "head_a": make_user(s, roles=["unit_head"], unit_id=a.id),
            "staff_a": make_user(s, roles=["unit_staff"], unit_id=a.id),
            "staff_empty": make_user(s, roles=["unit_staff"], unit_id=empty.id),
        }
        s.commit()
    w = World(a, b, empty, users, a_ids, b_ids)
    # History for the detail: 签收 one assignment of unit A through the API.
    r = served.client.post(f"{API}/assignments/{a_ids[0]}/accept", headers=headers(served, w, "head_a"))
    assert r.status_code == 200, r.text
    return w


def headers(served: Served, w: World, who: str) -> dict[str, str]:
    return auth_headers(w.users[who], served.clock)


def old_list(served: Served, user_id: int, params: dict[str, Any]) -> bytes:
    """What the sync route returned: paginate on an ORM session, then decorate."""
    now = served.clock.now()
    sort = params.get("sort", "due_date")
    with Session(served.engine) as s:
        user = s.get(User, user_id)
        assert user is not None
        stmt = service.apply_filters(
            service.list_statement(user, sort=sort),
            now=now,
            state=params.get("state"),
            unit_id=params.get("unit_id"),
            overdue=params.get("overdue"),
        )
        page = paginate(
            s, stmt, order=service.SORTS[sort], limit=params.get("limit", 100), cursor=params.get("cursor")
        )
        service.decorate(page["items"], now=now)
        return bytes(json_response(page).body)


def old_detail(served: Served, user_id: int, assignment_id: int) -> bytes:
    with Session(served.engine) as s:
        user = s.get(User, user_id)
        assert user is not None
        body = service.read_row(s, user=user, assignment_id=assignment_id, now=served.clock.now())
        body["history"] = service.history(s, assignment_id=assignment_id)
        return bytes(json_response(body).body)


@contextmanager
def sync_statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN"))
            and "calendar_state" not in statement
        ):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


LISTS: list[dict[str, Any]] = [
    {},
    {"state": OPEN, "limit": 3},
    {"sort": "-id"},
    {"sort": "updated_at", "limit": 2},
    {"overdue": True},
    {"overdue": False, "sort": "-due_date"},
]


@pytest.mark.parametrize("who", ["office", "leader", "head_a", "staff_a", "staff_empty"])
def test_bodies_are_those_of_the_sync_route_for_every_role(served: Served, world: World, who: str) -> None:
    w, h = world, headers(served, world, who)
    user_id = w.users[who].id or 0
    served.clock.set(datetime(2025, 12, 1, 1, 0, tzinfo=UTC))
    for params in LISTS:
        # Every page, following the cursor: keyset conditions and next_cursor are the same too.
        while True:
            r = served.client.get(f"{API}/assignments", params=params, headers=h)
            assert r.status_code == 200, r.text
            assert r.content == old_list(served, user_id, params), params
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
            params = {**params, "cursor": cursor}
    for assignment_id in (w.a_ids[0], w.a_ids[6], w.b_ids[0]):
        r = served.client.get(f"{API}/assignments/{assignment_id}", headers=h)
        if who in ("office", "leader") or (who in ("head_a", "staff_a") and assignment_id in w.a_ids):
            assert r.status_code == 200, r.text
            assert r.content == old_detail(served, user_id, assignment_id)
            assert r.headers["etag"] == f'W/"assignment-{assignment_id}-{r.json()["version"]}"'
        else:
            assert r.status_code == 404 and r.json()["error"]["code"] == "assignment.not_found"


def test_unit_staff_see_only_their_unit_by_url_too(served: Served, world: World) -> None:
    w, h = world, headers(served, world, "staff_a")
    items = served.client.get(f"{API}/assignments", params={"limit": 500}, headers=h).json()["items"]
    assert sorted(i["id"] for i in items) == sorted(w.a_ids)
    assert {i["unit_id"] for i in items} == {w.a.id}
    assert served.client.get(f"{API}/assignments", params={"unit_id": w.b.id}, headers=h).json() == {
        "items": [],
        "next_cursor": None,
    }
    for b_id in w.b_ids:
        r = served.client.get(f"{API}/assignments/{b_id}", headers=h)
        assert r.status_code == 404 and r.json()["error"]["code"] == "assignment.not_found"
    first = served.client.get(f"{API}/assignments/{w.a_ids[0]}", headers=h).json()
    assert first["allowed_actions"] == []  # staff: no actions; the head may request completion
    head = served.client.get(f"{API}/assignments/{w.a_ids[0]}", headers=headers(served, w, "head_a")).json()
    assert head["allowed_actions"] == ["request-completion"] and [e["to_state"] for e in head["history"]] == [
        "accepted"
    ]


def _bump(served: Served, sql: str, user_id: int) -> None:
    with served.engine.begin() as conn:
        conn.execute(text(sql), {"id": user_id})


@pytest.mark.parametrize("who", ["staff_a", "staff_empty"])  # rows found, and an empty page
@pytest.mark.parametrize(
    ("sql", "code"),
    [
        # As sign-out does it: a Core UPDATE of the generation, the row's version untouched.
        (
            "UPDATE user_account SET token_generation = token_generation + 1 WHERE id = :id",
            "auth.token_revoked",
        ),
        ("UPDATE user_account SET is_active = false WHERE id = :id", "auth.user_disabled"),
    ],
)
def test_a_revoked_token_is_refused_at_its_next_request(
    served: Served, world: World, who: str, sql: str, code: str
) -> None:
    w, h = world, headers(served, world, who)
    paths = [f"{API}/assignments", f"{API}/assignments/{w.a_ids[0]}"]
    for path in paths:  # the principal is cached now
        assert served.client.get(path, headers=h).status_code in (200, 404)
    _bump(served, sql, w.users[who].id or 0)
    for path in paths:  # no delay: the check is in the data statement itself
        r = served.client.get(path, headers=h)
        assert r.status_code == 401 and r.json()["error"]["code"] == code, r.text
    # A bad parameter does not hide the refusal.
    r = served.client.get(f"{API}/assignments", params={"cursor": "@@"}, headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == code


def test_a_moved_user_sees_the_new_unit_at_the_next_request(served: Served, world: World) -> None:
    w, h = world, headers(served, world, "staff_a")
    assert {i["unit_id"] for i in served.client.get(f"{API}/assignments", headers=h).json()["items"]} == {
        w.a.id
    }
    with Session(served.engine) as s:  # through the ORM: the row's version moves, not the generation
        user = s.get(User, w.users["staff_a"].id)
        assert user is not None
        user.unit_id = w.b.id
        s.commit()
    assert {i["unit_id"] for i in served.client.get(f"{API}/assignments", headers=h).json()["items"]} == {
        w.b.id
    }
    assert served.client.get(f"{API}/assignments/{w.a_ids[1]}", headers=h).status_code == 404
    assert served.client.get(f"{API}/assignments/{w.b_ids[1]}", headers=h).status_code == 200


def test_round_trips(served: Served, world: World) -> None:
    w, h = world, headers(served, world, "staff_a")
    list_path, detail_path = (
        f"{API}/assignments?state=assigned&state=accepted",
        f"{API}/assignments/{w.a_ids[0]}",
    )
    counts = {}
    for name, path in (("cold list", list_path), ("list", list_path), ("detail", detail_path)):
        if name == "cold list":
            hotpath.forget_principals()
        before = hotpath.statements_run
        with sync_statements(served.engine) as sync:
            r = served.client.get(path, headers=h)
        assert r.status_code == 200, r.text
        counts[name] = (hotpath.statements_run - before, len(sync))
    if served.backend == "postgresql":
        # (async statements, sync statements): the principal's lookup only when not cached; then
        # one statement a page, two a detail (the row, its history); nothing on the sync engine.
        assert counts == {"cold list": (2, 0), "list": (1, 0), "detail": (2, 0)}
    else:
        # SQLite: the sync path, the principal looked up per request as before (in a transaction
        # of its own: two BEGINs, not counted); the detail no longer loads the row twice.
        assert counts == {"cold list": (0, 2), "list": (0, 2), "detail": (0, 3)}


def test_a_slot_bounds_the_connections(served: Served, world: World) -> None:
    """Requests beyond the pool's size wait on the event loop for a slot; no more connections are
    held at once than the pool has."""
    from duban.settings import get_settings

    if not served.threaded:
        pytest.skip("counts the sync pool's checkouts")
    size = get_settings().db_pool_size + get_settings().db_max_overflow
    held, peak = [0], [0]

    def checkout(*_: Any) -> None:
        held[0] += 1
        peak[0] = max(peak[0], held[0])

    def checkin(*_: Any) -> None:
        held[0] -= 1

    event.listen(served.engine, "checkout", checkout)
    event.listen(served.engine, "checkin", checkin)
    h = headers(served, world, "office")

    async def burst() -> list[int]:
        import httpx

        transport = httpx.ASGITransport(app=served.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            replies = await asyncio.gather(*[c.get(f"{API}/assignments", headers=h) for _ in range(3 * size)])
        return [r.status_code for r in replies]

    try:
        statuses = served.client.portal.call(burst)
    finally:
        event.remove(served.engine, "checkout", checkout)
        event.remove(served.engine, "checkin", checkin)
    assert statuses == [200] * (3 * size)
    assert 1 <= peak[0] <= size


def test_an_expired_token_is_refused_though_its_signature_was_verified_before(
    served: Served, world: World
) -> None:
    from duban.settings import get_settings

    h = headers(served, world, "staff_a")
    assert served.client.get(f"{API}/assignments", headers=h).status_code == 200
    served.clock.advance(timedelta(minutes=get_settings().access_token_minutes, seconds=1))
    r = served.client.get(f"{API}/assignments", headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.token_expired"


def test_timestamps_are_utc_whatever_the_session_zone(served: Served, world: World) -> None:
    """Rows come from the driver as they are: in a session not in UTC, timestamps are converted."""
    if served.backend != "postgresql" or not served.threaded:
        pytest.skip("session time zones of the sync pool's PostgreSQL connections (the async pool's are UTC)")

    def shanghai(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute("SET TIME ZONE 'Asia/Shanghai'")
        dbapi_connection.commit()

    served.engine.dispose()
    event.listen(served.engine, "connect", shanghai)
    try:
        w = world
        for who in ("office", "staff_a"):
            r = served.client.get(f"{API}/assignments", headers=headers(served, w, who))
            assert r.status_code == 200 and r.content == old_list(served, w.users[who].id or 0, {})
            assert all(i["due_at"].endswith("+00:00") for i in r.json()["items"] if i["due_at"])
        r = served.client.get(f"{API}/assignments/{w.a_ids[0]}", headers=headers(served, w, "office"))
        assert r.content == old_detail(served, w.users["office"].id or 0, w.a_ids[0])
    finally:
        event.remove(served.engine, "connect", shanghai)
        served.engine.dispose()


def test_the_detail_is_dispatched_directly_with_the_routers_answers(served: Served, world: World) -> None:
    """api.direct answers GET /assignments and /assignments/{id} before the router; every answer
    is the router's."""
    from api import direct
    from api.deps import settings_dep

    w, app = world, served.client.app
    served.clock.set(datetime(2025, 12, 1, 1, 0, tzinfo=UTC))
    head = headers(served, w, "head_a")
    cases: list[tuple[str, dict[str, str], bool]] = [
        (f"{API}/assignments/{w.a_ids[0]}", head, True),  # 200 with history
        (f"{API}/assignments/{w.a_ids[6]}", headers(served, w, "office"), True),
        (f"{API}/assignments/{w.b_ids[0]}", head, True),  # another unit's: 404
        (f"{API}/assignments/987654321", head, True),
        (f"{API}/assignments/{w.a_ids[0]}", {}, True),  # 401
        (f"{API}/assignments/{w.a_ids[0]}", {"Authorization": "Bearer nonsense"}, True),
        (f"{API}/assignments/{w.a_ids[0]}", {"Authorization": "Basic eDp5"}, True),
        (f"{API}/assignments?state=assigned&state=accepted&limit=3", head, True),
        (f"{API}/assignments?limit=0", head, True),  # 422 from FastAPI's own parameter check
        (f"{API}/assignments?limit=abc&sort=bogus&state=nope", head, True),
        (f"{API}/assignments?limit=", head, True),
        (f"{API}/assignments?overdue=true&sort=-due_date&due_before=2025-12-31", head, True),
        (f"{API}/assignments?limit=5", {}, True),  # 401 before the parameters
        (f"{API}/assignments/abc", head, False),  # the router's 422
        (f"{API}/assignments/99999999999999999999", head, False),
        (f"{API}/assignments/{w.a_ids[0]}/history", head, False),
    ]

    def answer(path: str, h: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        r = served.client.get(path, headers=h)
        kept = {k: v for k, v in r.headers.items() if k != "x-request-id"}
        return r.status_code, r.content, kept

    direct_answers = []
    for path, h, dispatched in cases:
        before = direct.served
        direct_answers.append(answer(path, h))
        assert direct.served == before + int(dispatched), path
    statuses = [a[0] for a in direct_answers]
    assert statuses[:14] == [200, 200, 404, 404, 401, 401, 401, 200, 422, 422, 422, 200, 401, 422], statuses
    # An overridden dependency (as tests do) sends every request through the router.
    app.dependency_overrides[settings_dep] = settings_dep  # type: ignore[attr-defined]
    try:
        before = direct.served
        routed = [answer(path, h) for path, h, _ in cases]
        assert direct.served == before
    finally:
        app.dependency_overrides.clear()  # type: ignore[attr-defined]
    for (path, _, _), mine, theirs in zip(cases, direct_answers, routed, strict=True):
        assert mine == theirs, path


def test_units_share_one_compiled_detail_and_each_sees_only_its_own(served: Served, world: World) -> None:
    """A template is compiled once per shape (api.hotpath._prepared): every unit head's detail is
    the same statement with its unit as a value, and the value is the reader's own."""
    from api.assignment.router import DETAIL

    w = world
    with Session(served.engine, expire_on_commit=False) as s:
        head_b = make_user(s, roles=["unit_head"], unit_id=w.b.id)
        s.commit()
    h_a, h_b = headers(served, w, "head_a"), auth_headers(head_b, served.clock)
    # In turn, so that each reader comes after the other's scope was prepared.
    for _ in range(2):
        for h, mine, theirs in ((h_a, w.a_ids, w.b_ids), (h_b, w.b_ids, w.a_ids)):
            for own, other in zip(mine[:3], theirs[:3], strict=True):
                r = served.client.get(f"{API}/assignments/{own}", headers=h)
                assert r.status_code == 200 and r.json()["id"] == own, r.text
                r = served.client.get(f"{API}/assignments/{other}", headers=h)
                assert r.status_code == 404 and r.json()["error"]["code"] == "assignment.not_found"
    if served.backend == "postgresql":
        checked = {
            key[1]: entry for key, entry in hotpath._templates.items() if key[0] == id(DETAIL) and key[2]
        }
        ours = [checked[False, w.a.id], checked[False, w.b.id]]  # two scopes...
        assert ours[0][0] is ours[1][0]  # ...one compiled statement, each with its own unit
        for unit_id, (_, extracted) in zip((w.a.id, w.b.id), ours, strict=True):
            assert unit_id in [p.value for p in extracted or ()]
