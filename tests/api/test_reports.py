from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from duban.models import (
    Assignment,
    AssignmentState,
    AuditEntry,
    IndicatorValue,
    OutboxEvent,
    Plan,
    ReportCadence,
    Unit,
)
from tests.api.conftest import AsRole
from tests.factories import make_assignment, make_indicator, make_plan, make_task, make_unit


@dataclass
class World:
    plan: Plan
    unit: Unit
    other: Unit
    assignment: Assignment
    indicator_id: int


@pytest.fixture
def world(session: Session) -> World:
    plan = make_plan(session)
    task = make_task(session, plan=plan)
    unit, other = make_unit(session), make_unit(session)
    assignment = make_assignment(session, task=task, unit=unit, state=AssignmentState.accepted)
    indicator = make_indicator(session, plan=plan, target_value=50.0, owner_unit_id=unit.id)
    session.commit()
    return World(plan, unit, other, assignment, indicator.id)


def _create(client: TestClient, w: World, headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"/api/v1/assignments/{w.assignment.id}/reports", json=body, headers=headers)


def test_full_report_flow(client: TestClient, as_role: AsRole, session: Session, world: World) -> None:
    staff = as_role("unit_staff", unit=world.unit)
    office = as_role("office")
    r = _create(
        client,
        world,
        staff,
        period="2025-11",
        text="已完成招引项目12个",
        percent_done=40,
        indicator_values=[{"indicator_id": world.indicator_id, "value": 12}],
    )
    assert r.status_code == 201, r.text
    report = r.json()
    rid = report["id"]
    assert report["state"] == "draft" and report["period_due_date"] == "2025-11-25"
    assert report["indicator_values"] == [{"indicator_id": world.indicator_id, "value": 12.0}]
    etag = r.headers["etag"]

    ok = client.patch(
        f"/api/v1/reports/{rid}", json={"percent_done": 45}, headers={**staff, "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = client.patch(
        f"/api/v1/reports/{rid}", json={"percent_done": 50}, headers={**staff, "If-Match": etag}
    )
    assert stale.status_code == 412

    assert client.post(f"/api/v1/reports/{rid}/submit", headers=staff).json()["state"] == "submitted"
    locked = client.patch(f"/api/v1/reports/{rid}", json={"text": "改"}, headers=staff)
    assert locked.status_code == 409
    assert locked.json()["error"]["code"] == "report.illegal_transition"
    assert locked.json()["error"]["details"]["allowed"] == ["approve", "reject"]

    no_reason = client.post(f"/api/v1/reports/{rid}/reject", json={}, headers=office)
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "report.reason_required"
    rejected = client.post(f"/api/v1/reports/{rid}/reject", json={"reason": "请补充佐证材料"}, headers=office)
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert session.get(Assignment, world.assignment.id).percent_done == 0  # type: ignore[union-attr]

    assert client.post(f"/api/v1/reports/{rid}/submit", headers=staff).json()["state"] == "submitted"
    approved = client.post(f"/api/v1/reports/{rid}/approve", headers=office)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    again = client.post(f"/api/v1/reports/{rid}/approve", headers=office)
    assert again.status_code == 409 and again.json()["error"]["details"]["allowed"] == []

    # Percent and indicator values move on approval.
    assert session.get(Assignment, world.assignment.id).percent_done == 45  # type: ignore[union-attr]
    value = session.exec(
        select(IndicatorValue).where(IndicatorValue.indicator_id == world.indicator_id)
    ).one()
    assert (value.period, value.period_end, value.value, value.report_id) == (
        "2025-11",
        date(2025, 11, 30),
        12.0,
        rid,
    )

    types = session.exec(select(OutboxEvent.type).order_by(col(OutboxEvent.id))).all()
    assert types == ["report.submitted", "report.reviewed", "report.submitted", "report.reviewed"]
    actions = set(session.exec(select(AuditEntry.action)).all())
    assert {
        "report.create",
        "report.update",
        "report.submit",
        "report.reject",
        "report.approve",
        "assignment.progress",
    } <= actions


def test_unit_users_see_only_their_own_reports(client: TestClient, as_role: AsRole, world: World) -> None:
    staff = as_role("unit_staff", unit=world.unit)
    outsider = as_role("unit_head", unit=world.other)
    rid = _create(client, world, staff, period="2025-11", text="进展").json()["id"]
    assert client.get(f"/api/v1/reports/{rid}", headers=outsider).status_code == 404
    assert client.get("/api/v1/reports", headers=outsider).json()["items"] == []
    assert client.post(f"/api/v1/reports/{rid}/submit", headers=outsider).status_code == 404
    assert _create(client, world, outsider, period="2025-10").status_code == 404
    mine = client.get("/api/v1/reports", params={"state": "draft"}, headers=staff).json()["items"]
    assert [r["id"] for r in mine] == [rid]
    office = as_role("office")
    listed = client.get(
        "/api/v1/reports", params={"unit_id": world.unit.id, "period": "2025-11"}, headers=office
    )
    assert [r["id"] for r in listed.json()["items"]] == [rid]
    # Office reviews, it does not write a unit's report.
    assert _create(client, world, office, period="2025-09").status_code == 403


def test_periods_follow_the_plan_cadence(
    client: TestClient, as_role: AsRole, session: Session, world: World
) -> None:
    staff = as_role("unit_head", unit=world.unit)
    current = _create(client, world, staff, text="本月")
    # The clock says 2025-12-01 (Asia/Shanghai): the current monthly period.
    assert current.status_code == 201 and current.json()["period"] == "2025-12"
    # 2025-10-25 is a Saturday: the deadline moves to Monday the 27th.
    assert _create(client, world, staff, period="2025-10").json()["period_due_date"] == "2025-10-27"
    dup = _create(client, world, staff, period="2025-10")
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "report.duplicate_period"
    wrong = _create(client, world, staff, period="2025-Q2")
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "report.period_cadence_mismatch"
    bad = _create(client, world, staff, period="2025-13")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "period.invalid"

    world.plan.report_cadence = ReportCadence.quarterly
    session.commit()
    assert _create(client, world, staff, period="2025-Q3").json()["period_due_date"] == "2025-09-25"
    world.plan.report_cadence = ReportCadence.weekly
    session.commit()
    assert _create(client, world, staff, period="2025-W23").json()["period_due_date"] == "2025-06-06"


def test_report_needs_an_accepted_assignment_and_valid_indicators(
    client: TestClient, as_role: AsRole, session: Session, world: World
) -> None:
    staff = as_role("unit_staff", unit=world.unit)
    foreign = make_indicator(session, plan=world.plan, owner_unit_id=world.other.id)
    session.commit()
    r = _create(
        client, world, staff, period="2025-11", indicator_values=[{"indicator_id": foreign.id, "value": 1}]
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "report.indicator_not_owned"
    r = _create(client, world, staff, period="2025-11", percent_done=101)
    assert r.status_code == 422
    empty = _create(client, world, staff, period="2025-11").json()
    r = client.post(f"/api/v1/reports/{empty['id']}/submit", headers=staff)
    assert r.status_code == 422 and r.json()["error"]["code"] == "report.text_required"
    world.assignment.state = AssignmentState.assigned
    session.commit()
    r = _create(client, world, staff, period="2025-10", text="x")
    assert r.status_code == 409 and r.json()["error"]["code"] == "report.assignment_not_reportable"


def test_report_list_items_name_task_and_unit(client: TestClient, as_role: AsRole, world: World) -> None:
    staff = as_role("unit_staff", unit=world.unit)
    assert _create(client, world, staff, period="2025-11", text="x").status_code == 201
    for headers in (as_role("office"), staff):
        items = client.get("/api/v1/reports", params={"plan_id": world.plan.id}, headers=headers).json()[
            "items"
        ]
        assert [(i["unit_name"], i["task_id"], i["assignment_id"]) for i in items] == [
            (world.unit.name, world.assignment.task_id, world.assignment.id)
        ]
        assert items[0]["task_title"] and items[0]["task_code"]
    assert client.get("/api/v1/reports", headers=as_role("unit_head", unit=world.other)).json()["items"] == []


def test_approving_a_report_after_completion_keeps_the_assignment_complete(
    client: TestClient, as_role: AsRole, world: World
) -> None:
    """A report submitted before completion and approved after it must not pull the completed
    assignment's progress back from 100 %."""
    head = as_role("unit_head", unit=world.unit)
    office = as_role("office")
    a = world.assignment.id
    body = {"text": "进展", "percent_done": 40}
    r = client.post(f"/api/v1/assignments/{a}/reports", json=body, headers=head)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert client.post(f"/api/v1/reports/{rid}/submit", headers=head).status_code == 200
    assert client.post(f"/api/v1/assignments/{a}/request-completion", headers=head).status_code == 200
    assert client.post(f"/api/v1/assignments/{a}/approve", headers=office).status_code == 200
    assert client.post(f"/api/v1/reports/{rid}/approve", json={}, headers=office).status_code == 200
    got = client.get(f"/api/v1/assignments/{a}", headers=office).json()
    assert (got["state"], got["percent_done"]) == ("completed", 100)
