from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from duban.clock import FixedClock
from duban.models import Plan, Unit
from tests.api.conftest import AsRole
from tests.factories import make_plan, make_unit


@pytest.fixture
def ctx(session: Session) -> tuple[Plan, Unit, Unit]:
    plan, a, b = make_plan(session), make_unit(session), make_unit(session)
    session.commit()
    return plan, a, b


def test_indicator_crud_values_and_rag(
    client: TestClient, as_role: AsRole, clock: FixedClock, ctx: tuple[Plan, Unit, Unit]
) -> None:
    plan, a, b = ctx
    office = as_role("office")
    body = {
        "plan_id": plan.id,
        "name": "高新技术企业数",
        "target_value": 40,
        "unit": "家",
        "comparator": ">=",
        "baseline_value": 0,
        "due_date": "2025-12-31",
        "cadence": "quarterly",
        "owner_unit_id": a.id,
    }
    r = client.post("/api/v1/indicators", json=body, headers=office)
    assert r.status_code == 201, r.text
    ind = r.json()
    assert ind["status"]["rag"] == "yellow" and ind["status"]["reason"] == "尚无填报数据，无法判断进度"

    staff = as_role("unit_staff", unit=a)
    url = f"/api/v1/indicators/{ind['id']}/values"
    for period, value in (("2025-Q1", 10), ("2025-Q2", 20), ("2025-Q3", 25)):
        assert client.post(url, json={"period": period, "value": value}, headers=staff).status_code == 201
    # The office corrects Q3; the same period is replaced, not duplicated.
    fixed = client.post(url, json={"period": "2025-Q3", "value": 30}, headers=office)
    assert fixed.status_code == 201 and fixed.json()["period_end"] == "2025-09-30"
    assert (
        client.post(
            url, json={"period": "2025-Q4", "value": 1}, headers=as_role("unit_staff", unit=b)
        ).status_code
        == 403
    )
    assert client.post(url, json={"period": "2025-Q5", "value": 1}, headers=staff).status_code == 422
    assert [v["value"] for v in client.get(url, headers=staff).json()] == [10, 20, 30]

    # x = days after 2025-03-31: 0, 91, 183; y = 10, 20, 30. Sxx = 16744.67, Sxy = 1830,
    # slope = 0.109289/day; at 2025-12-31 (x = 275): 20 + 0.109289 · (275 − 91.333) = 40.07.
    status = client.get(f"/api/v1/indicators/{ind['id']}", headers=staff).json()["status"]
    assert status["forecast"] == pytest.approx(40.07, abs=0.01)
    assert (status["rag"], status["progress"], status["latest_value"]) == ("green", 0.75, 30)

    etag = client.get(f"/api/v1/indicators/{ind['id']}", headers=office).headers["etag"]
    r = client.patch(
        f"/api/v1/indicators/{ind['id']}", json={"target_value": 50}, headers={**office, "If-Match": etag}
    )
    assert r.status_code == 200
    assert (
        r.json()["status"]["rag"] == "red" and "进度滞后" in r.json()["status"]["reason"]
    )  # 40.07 is 19.9% short
    stale = client.patch(
        f"/api/v1/indicators/{ind['id']}", json={"target_value": 45}, headers={**office, "If-Match": etag}
    )
    assert stale.status_code == 412
    r = client.patch(f"/api/v1/indicators/{ind['id']}", json={"target_value": 42}, headers=office)
    assert r.json()["status"]["rag"] == "yellow"  # 1.9/42 = 4.6% short

    clock.set(datetime(2026, 1, 10, 2, 0, tzinfo=UTC))
    later = as_role("viewer")  # tokens issued before the jump have expired
    listed = client.get("/api/v1/indicators", params={"plan_id": plan.id}, headers=later).json()["items"]
    assert [(i["id"], i["status"]["rag"]) for i in listed] == [(ind["id"], "red")]
    assert listed[0]["status"]["reason"].startswith("已过截止日期，目标未达成")


def test_indicator_validation_and_roles(
    client: TestClient, as_role: AsRole, ctx: tuple[Plan, Unit, Unit]
) -> None:
    plan, a, _ = ctx
    office = as_role("office")
    base = {"plan_id": plan.id, "name": "研发投入占比", "target_value": 1.8}
    assert (
        client.post("/api/v1/indicators", json=base, headers=as_role("unit_head", unit=a)).status_code == 403
    )
    bad = client.post("/api/v1/indicators", json={**base, "comparator": "!="}, headers=office)
    assert bad.status_code == 422 and bad.json()["error"]["code"]
    # 左右 is a comparator of its own ("~"), in symbols or in words.
    approx = client.post("/api/v1/indicators", json={**base, "comparator": "左右"}, headers=office)
    assert approx.status_code == 201 and approx.json()["comparator"] == "~"
    bad_plan = client.post("/api/v1/indicators", json={**base, "plan_id": 999999}, headers=office)
    assert bad_plan.status_code == 422 and bad_plan.json()["error"]["code"] == "indicator.unknown_plan"
    no_target = client.post("/api/v1/indicators", json={**base, "target_value": None}, headers=office).json()
    assert no_target["status"] is None
    # No owner unit: only the office reports its values.
    r = client.post(
        f"/api/v1/indicators/{no_target['id']}/values",
        json={"period": "2025", "value": 1},
        headers=as_role("unit_head", unit=a),
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "indicator.not_owner"
    assert client.delete(f"/api/v1/indicators/{no_target['id']}", headers=office).status_code == 204
    assert client.get(f"/api/v1/indicators/{no_target['id']}", headers=office).status_code == 404


def test_plan_with_an_approximate_indicator_imports_and_lists(
    client: TestClient, as_role: AsRole, clock: FixedClock
) -> None:
    """左右 in a plan's goals is the comparator "~": it imports, lists and gets a light (was a 500)."""
    text = (
        "县人才工作行动计划\n二、主要目标\n"
        "到2025年，高新技术企业不少于120家，人才总量稳定在5万人左右。\n"
        "三、重点任务\n（一）建平台。（县科技局负责）"
    )
    office = as_role("office")
    r = client.post(
        "/api/v1/plans/import",
        content=text.encode(),
        headers={**office, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["plan_id"]
    r = client.get("/api/v1/indicators", params={"plan_id": plan_id}, headers=as_role("unit_staff"))
    assert r.status_code == 200, r.text
    items = r.json()["items"] if isinstance(r.json(), dict) else r.json()
    by_name = {i["name"]: i for i in items}
    approx = by_name["人才总量"]
    assert (approx["comparator"], approx["target_value"], approx["unit"]) == ("~", 5, "万人")
    assert approx["status"]["rag"] == "yellow" and approx["status"]["reason"] == "尚无填报数据，无法判断进度"

    # A value within 5% of the target meets "5万人左右"; the office may also write it in words.
    url = f"/api/v1/indicators/{approx['id']}/values"
    assert client.post(url, json={"period": "2025", "value": 4.8}, headers=office).status_code == 201
    got = client.get(f"/api/v1/indicators/{approx['id']}", headers=office)
    again = got.json()
    assert again["status"]["rag"] == "green" and again["status"]["progress"] == 1.0
    patched = client.patch(
        f"/api/v1/indicators/{approx['id']}",
        json={"comparator": "不低于"},
        headers={**office, "If-Match": got.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["comparator"] == ">=" and patched.json()["status"]["rag"] != "green"
