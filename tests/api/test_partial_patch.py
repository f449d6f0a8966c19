"""Every PATCH route, fed partial and null bodies against a real resource, answers 2xx or a 4xx
envelope in Chinese — never a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from duban.clock import FixedClock
from duban.models import ProgressReportState, WebhookEndpoint
from duban.settings import get_settings
from tests.api.conftest import auth_headers
from tests.api.test_authz_matrix import app_routes
from tests.factories import (
    make_assignment,
    make_group,
    make_indicator,
    make_plan,
    make_report,
    make_section,
    make_task,
    make_unit,
    make_user,
)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _examples(spec: dict[str, Any], prop: dict[str, Any]) -> list[Any]:
    """A plausible value of the property's type, and null."""
    out: list[Any] = [None]
    for alt in prop.get("anyOf", [prop]):
        alt = _resolve(spec, alt)
        kind, fmt = alt.get("type"), alt.get("format")
        if "enum" in alt:
            out.append(alt["enum"][0])
        elif kind == "string" and fmt == "date":
            out.append("2025-06-30")
        elif kind == "string" and fmt == "date-time":
            out.append("2025-06-30T09:00:00+08:00")
        elif kind == "string":
            out.append("测试")
        elif kind == "integer":
            out.append(alt.get("minimum", 1))
        elif kind == "number":
            out.append(1.5)
        elif kind == "boolean":
            out.append(True)
        elif kind == "array":
            out.append([])
        elif kind == "object":
            out.append({})
    return out


@pytest.fixture
def world(session: Session, clock: FixedClock) -> dict[str, Any]:
    unit = make_unit(session)
    plan = make_plan(session)
    section = make_section(session, plan=plan)
    task = make_task(session, plan=plan, section=section)
    assignment = make_assignment(session, task=task, unit=unit)
    report = make_report(session, assignment=assignment, period="2025-06", state=ProgressReportState.draft)
    indicator = make_indicator(session, plan=plan)
    group = make_group(session, members=[unit])
    victim = make_user(session, roles=["viewer"])
    hook = WebhookEndpoint(url="https://oa.example.gov.cn/hook", secret="whsec_AAAA")
    session.add(hook)
    users = {
        "admin": make_user(session, roles=["admin"]),
        "office": make_user(session, roles=["office"]),
        "unit_staff": make_user(session, roles=["unit_staff"], unit_id=unit.id),
    }
    session.commit()
    ids = {
        "plan_id": plan.id,
        "section_id": section.id,
        "task_id": task.id,
        "report_id": report.id,
        "indicator_id": indicator.id,
        "group_id": group.id,
        "unit_id": unit.id,
        "user_id": victim.id,
        "webhook_id": hook.id,
    }
    return {"ids": ids, "headers": {r: auth_headers(u, clock) for r, u in users.items()}}


_ROLE = {"/api/v1/reports/": "unit_staff", "/api/v1/users/": "admin", "/api/v1/units/": "admin"}
_ROLE.update({"/api/v1/unit-groups/": "admin"})


def test_every_patch_route_takes_partial_and_null_bodies(
    client: TestClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    spec = client.get("/openapi.json").json()
    failures: list[str] = []
    patched = 0
    for method, path in app_routes():
        if method != "PATCH":
            continue
        url = re.sub(r"\{([^}]+)\}", lambda m: str(world["ids"][m.group(1)]), path)
        role = next((r for p, r in _ROLE.items() if path.startswith(p)), "office")
        headers = world["headers"][role]
        op = spec["paths"][path]["patch"]
        schema = _resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
        bodies: list[dict[str, Any]] = [{}]
        for name, prop in schema.get("properties", {}).items():
            bodies += [{name: v} for v in _examples(spec, prop)]
        for body in bodies:
            r = client.patch(url, json=body, headers=headers)
            patched += 1
            if r.status_code >= 500 or (r.status_code >= 400 and "error" not in r.json()):
                failures.append(f"PATCH {path} {body}: {r.status_code} {r.text[:200]}")
    assert patched > 50
    assert failures == [], "\n".join(failures)


def test_plan_period_end_alone(client: TestClient, world: dict[str, Any]) -> None:
    url = f"/api/v1/plans/{world['ids']['plan_id']}"
    office = world["headers"]["office"]
    r = client.patch(url, json={"period_end": "2026-12-31"}, headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["period_end"] == "2026-12-31"
    r = client.patch(url, json={"period_end": "2023-01-01"}, headers=office)
    assert r.status_code == 422 and r.json()["error"]["code"] == "plan.invalid_period"
    r = client.patch(url, json={"period_start": "2026-01-01", "period_end": None}, headers=office)
    assert r.status_code == 200, r.text
    assert (r.json()["period_start"], r.json()["period_end"]) == ("2026-01-01", None)


def test_unit_group_member_kinds_null(client: TestClient, world: dict[str, Any]) -> None:
    url = f"/api/v1/unit-groups/{world['ids']['group_id']}"
    r = client.patch(url, json={"member_kinds": None}, headers=world["headers"]["admin"])
    assert r.status_code == 200, r.text
    assert r.json()["member_kinds"] == []
