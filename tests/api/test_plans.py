from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from duban.models import AuditEntry
from tests.api.conftest import AsRole

PLAN = {
    "title": "涟水县科技创新行动计划（2024—2025年）",
    "doc_no": "涟政办发〔2024〕7号",
    "period_start": "2024-01-01",
    "period_end": "2025-12-31",
    "report_cadence": "quarterly",
    "report_due_day": 20,
}


def test_office_creates_reads_updates_and_deletes_a_plan(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    office = as_role("office")
    r = client.post("/api/v1/plans", json=PLAN, headers=office)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["report_cadence"] == "quarterly" and plan["report_due_day"] == 20
    assert plan["timezone"] == "Asia/Shanghai"
    assert plan["status"]["status"] == "unassigned" and plan["sections"] == []
    assert r.headers["etag"] == f'W/"plan-{plan["id"]}-1"'

    staff = as_role("unit_staff")
    r = client.get(f"/api/v1/plans/{plan['id']}", headers=staff)
    assert r.status_code == 200 and r.json()["title"] == PLAN["title"]
    r = client.get("/api/v1/plans", params={"q": "科技创新"}, headers=staff)
    assert [p["id"] for p in r.json()["items"]] == [plan["id"]]

    etag = client.get(f"/api/v1/plans/{plan['id']}", headers=office).headers["etag"]
    r = client.patch(
        f"/api/v1/plans/{plan['id']}",
        json={"report_cadence": "monthly"},
        headers={**office, "If-Match": etag},
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["report_cadence"] == "monthly"
    stale = client.patch(
        f"/api/v1/plans/{plan['id']}", json={"title": "x"}, headers={**office, "If-Match": etag}
    )
    assert stale.status_code == 412

    actions = session.exec(select(AuditEntry.action).where(AuditEntry.entity_type == "plan")).all()
    assert actions == ["plan.create", "plan.update"]
    assert client.delete(f"/api/v1/plans/{plan['id']}", headers=office).status_code == 204
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=office).status_code == 404


def test_only_office_and_admin_write_plans(client: TestClient, as_role: AsRole) -> None:
    for role in ("unit_head", "unit_staff", "leader", "viewer"):
        r = client.post("/api/v1/plans", json=PLAN, headers=as_role(role))
        assert r.status_code == 403, role
    assert client.post("/api/v1/plans", json=PLAN, headers=as_role("admin")).status_code == 201


def test_bad_plan_input_is_422_in_the_envelope(client: TestClient, as_role: AsRole) -> None:
    office = as_role("office")
    bad = [
        {**PLAN, "period_start": "2026-01-01"},
        {**PLAN, "timezone": "Mars/Olympus"},
        {**PLAN, "report_due_day": 31},
        {**PLAN, "report_cadence": "daily"},
        {**PLAN, "title": "  "},
    ]
    for body in bad:
        r = client.post("/api/v1/plans", json=body, headers=office)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] in (
            "validation_error",
            "plan.invalid_period",
            "plan.invalid_timezone",
            "plan.invalid_title",
        )
    assert client.get("/api/v1/plans/999999", headers=office).json()["error"]["code"] == "plan.not_found"


def test_external_id_updates_instead_of_duplicating(client: TestClient, as_role: AsRole) -> None:
    office = as_role("office")
    first = client.post("/api/v1/plans", json={**PLAN, "external_id": "oa-1"}, headers=office).json()
    again = client.post(
        "/api/v1/plans", json={**PLAN, "title": "改名", "external_id": "oa-1"}, headers=office
    )
    assert again.json()["id"] == first["id"] and again.json()["title"] == "改名"


def test_sections_keep_document_codes_and_order(client: TestClient, as_role: AsRole) -> None:
    office = as_role("office")
    plan = client.post("/api/v1/plans", json=PLAN, headers=office).json()
    base = f"/api/v1/plans/{plan['id']}/sections"
    for code, title in (
        ("一", "实施创新主体培育攻坚行动"),
        ("二", "实施创新平台提升行动"),
        ("三", "实施人才集聚行动"),
    ):
        r = client.post(base, json={"code": code, "title": title}, headers=office)
        assert r.status_code == 201, r.text
    dup = client.post(base, json={"code": "一", "title": "重复"}, headers=office)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "section.duplicate"
    listed = client.get(base, headers=as_role("viewer")).json()
    assert [s["code"] for s in listed] == ["一", "二", "三"]
    second = listed[1]
    r = client.patch(
        f"{base}/{second['id']}",
        json={"title": "实施创新平台建设行动"},
        headers={**office, "If-Match": f'W/"section-{second["id"]}-1"'},
    )
    assert r.status_code == 200 and r.json()["title"] == "实施创新平台建设行动"
    detail = client.get(f"/api/v1/plans/{plan['id']}", headers=office).json()
    assert [s["code"] for s in detail["sections"]] == ["一", "二", "三"]
    assert client.delete(f"{base}/{second['id']}", headers=office).status_code == 204
    assert client.get(f"{base}/{second['id']}", headers=office).status_code == 404
    assert (
        client.post(base, json={"code": "四", "title": "x"}, headers=as_role("unit_head")).status_code == 403
    )
