"""Every GET route, on the demo's data, answers what openapi.json declares for it.

The hot lists serialise raw rows straight into orjson (no response-model pass at run time); this
test is what keeps those rows and the published schemas in step. Each 200 JSON body is validated
against the route's declared 200 schema (OpenAPI 3.1 = JSON Schema 2020-12), as an office user
and as a unit head.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from duban.cli import demo
from duban.clock import FixedClock
from duban.models import Role, User
from tests.api.conftest import auth_headers, openapi_spec

# path parameter → the table whose first row fills it
TABLES = {
    "unit_id": "unit",
    "group_id": "unit_group",
    "user_id": "user_account",
    "plan_id": "plan",
    "section_id": "plan_section",
    "task_id": "task",
    "assignment_id": "assignment",
    "report_id": "progress_report",
    "indicator_id": "indicator",
    "request_id": "extension_request",
    "instruction_id": "instruction",
    "attachment_id": "attachment",
    "webhook_id": "webhook_endpoint",
    "delivery_id": "delivery",
    "bulletin_id": "bulletin",
    "assessment_id": "assessment",
}
# required query parameters
QUERY = {"/api/v1/calendar/days": {"from": "2025-12-20", "to": "2026-01-10"}}


@pytest.fixture
def demo_world(session: Session, clock: FixedClock) -> dict[str, Any]:
    clock.set(demo.DEMO_ANCHOR)
    demo.build(session, now=demo.DEMO_ANCHOR)
    session.commit()
    ids: dict[str, Any] = {}
    for param, table in TABLES.items():
        ids[param] = session.execute(text(f"SELECT min(id) FROM {table}")).scalar()
    ids["event_type"] = "assignment.overdue"
    return ids


def _user(session: Session, role: Role) -> User:
    for u in session.exec(select(User)).all():
        if str(role) in u.roles and u.password_hash:
            return u
    raise AssertionError(f"the demo has no {role}")


def _fill_gaps(client: TestClient, session: Session, clock: FixedClock, ids: dict[str, Any]) -> None:
    """The demo writes no extension request and no 批示: add one of each through the API."""
    head = _user(session, Role.unit_head)
    accepted = session.execute(
        text("SELECT id FROM assignment WHERE unit_id = :u AND state = 'accepted' ORDER BY id LIMIT 1"),
        {"u": head.unit_id},
    ).scalar()
    assert accepted is not None
    r = client.post(
        f"/api/v1/assignments/{accepted}/extension-requests",
        json={"requested_due_date": "2026-06-30", "reason": "汛期施工受阻"},
        headers=auth_headers(head, clock),
    )
    assert r.status_code == 201, r.text
    ids["request_id"] = r.json()["id"]
    task_id = session.execute(text("SELECT task_id FROM assignment WHERE id = :a"), {"a": accepted}).scalar()
    r = client.post(
        f"/api/v1/tasks/{task_id}/instructions",
        json={"text": "请加快进度，月底前报送进展。"},
        headers=auth_headers(_user(session, Role.leader), clock),
    )
    assert r.status_code == 201, r.text
    ids["instruction_id"] = r.json()["id"]


def test_every_get_route_answers_its_declared_schema(
    client: TestClient, session: Session, clock: FixedClock, demo_world: dict[str, Any]
) -> None:
    _fill_gaps(client, session, clock, demo_world)
    spec = openapi_spec()
    components = {"components": spec.get("components", {})}
    checked, no_data, failures = [], [], []
    for role in (Role.admin, Role.office, Role.unit_head):
        headers = auth_headers(_user(session, role), clock)
        for path, item in sorted(spec["paths"].items()):
            op = item.get("get")
            if op is None or not path.startswith("/api/"):
                continue
            declared = op["responses"].get("200", {}).get("content", {}).get("application/json")
            if declared is None:
                continue  # files and pages: their own tests open them
            params = re.findall(r"\{([^}]+)\}", path)
            if any(demo_world.get(p) is None for p in params):
                no_data.append(path)
                continue
            url = re.sub(r"\{([^}]+)\}", lambda m: str(demo_world[m.group(1)]), path)
            r = client.get(url, headers=headers, params=QUERY.get(path))
            if r.status_code == 403 or (r.status_code == 404 and role == Role.unit_head):
                continue  # not this role's to read: the authz matrix covers who may read what
            if r.status_code != 200:
                failures.append(f"{role} GET {url}: {r.status_code} {r.text[:200]}")
                continue
            validator = jsonschema_rs.validator_for({**declared["schema"], **components})
            errors = [f"{e.instance_path}: {e.message}"[:200] for e in validator.iter_errors(r.json())]
            if errors:
                failures.append(f"{role} GET {url}: {errors[:3]}")
            checked.append((role, path))
    assert not failures, "\n".join(failures)
    # The demo leaves these kinds of object out; everything else is checked on real rows.
    assert set(no_data) <= {
        p for p in spec["paths"] if re.search(r"\{(attachment_id|delivery_id|bulletin_id|assessment_id)\}", p)
    }, sorted(set(no_data))
    assert len({p for _, p in checked}) >= 40
