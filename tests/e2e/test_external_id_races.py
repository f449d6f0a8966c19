"""Parallel creates with one external id against `duban api --workers 2`: one row, one 201, the rest 200.

Every request first misses the id; the unique key on (service account, external id) lets one
insert win, and the others — rolled back by their unit of work — find the winner and answer it.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from api.security import hash_password
from duban.db import make_engine
from duban.models import Role, User
from tests.e2e.conftest import ApiProcess
from tests.factories import make_plan, make_unit

pytestmark = [pytest.mark.e2e]

PARALLEL = 8
PASSWORD = "admin-password-1"


def _seed(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        plan, unit = make_plan(session), make_unit(session)
        session.add(User(username="admin1", roles=[Role.admin], password_hash=hash_password(PASSWORD)))
        session.commit()
        ids = {"plan": plan.id or 0, "unit": unit.id or 0}
    engine.dispose()
    return ids


def _key(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=30) as c:
        token = c.post("/api/v1/auth/token", data={"username": "admin1", "password": PASSWORD}).json()
        r = c.post(
            "/api/v1/service-accounts",
            json={"name": "oa", "scopes": ["tasks:read", "tasks:write", "units:manage", "users:manage"]},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert r.status_code == 201, r.text
        return {"X-API-Key": r.json()["api_key"]}


def _race(url: str, headers: dict[str, str], method: str, path: str, body: dict[str, Any]) -> list[int]:
    barrier = threading.Barrier(PARALLEL)
    statuses = [0] * PARALLEL

    def fire(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.get("/healthz")  # connect before the barrier: the requests leave together
            barrier.wait()
            statuses[i] = client.request(method, path, json=body, headers=headers).status_code

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _rows(url: str, table: str, external_id: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE external_id = :e"),
            {"e": external_id},
        ).scalar_one()
    engine.dispose()
    return int(n)


def test_parallel_creates_with_one_external_id_make_one_row(
    committed_url: str, two_workers: ApiProcess
) -> None:
    ids = _seed(committed_url)
    url, key = two_workers.url, _key(two_workers.url)

    task = {"plan_id": ids["plan"], "code": "1", "title": "强化高科技项目招引", "external_id": "OA-T-1"}
    statuses = _race(url, key, "POST", "/api/v1/tasks", task)
    assert sorted(statuses) == [200] * (PARALLEL - 1) + [201], statuses
    assert _rows(committed_url, "task", "OA-T-1") == 1

    statuses = _race(url, key, "PUT", "/api/v1/plans/by-external-id/OA-P-1", {"title": "科技创新行动方案"})
    assert sorted(statuses) == [200] * (PARALLEL - 1) + [201], statuses
    assert _rows(committed_url, "plan", "OA-P-1") == 1

    with httpx.Client(base_url=url, timeout=30) as c:
        task_id = c.get("/api/v1/tasks", params={"external_id": "OA-T-1"}, headers=key).json()["items"][0][
            "id"
        ]
    body = {"task_id": task_id, "unit_id": ids["unit"], "due_date": "2025-12-31"}
    statuses = _race(url, key, "PUT", "/api/v1/assignments/by-external-id/OA-A-1", body)
    assert sorted(statuses) == [200] * (PARALLEL - 1) + [201], statuses
    assert _rows(committed_url, "assignment", "OA-A-1") == 1

    unit = {"name": "县数据局", "kind": "department"}
    statuses = _race(url, key, "PUT", "/api/v1/units/by-external-id/OA-U-1", unit)
    assert sorted(statuses) == [200] * (PARALLEL - 1) + [201], statuses
    assert _rows(committed_url, "unit", "OA-U-1") == 1

    person = {
        "username": "sjj-li",
        "password": "long-enough-1",
        "roles": ["unit_staff"],
        "unit_id": ids["unit"],
        "external_id": "OA-E-1",
    }
    statuses = _race(url, key, "POST", "/api/v1/users", person)
    assert sorted(statuses) == [200] * (PARALLEL - 1) + [201], statuses
    assert _rows(committed_url, "user_account", "OA-E-1") == 1
