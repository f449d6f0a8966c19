from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from duban import outbox
from duban.events import AssignmentReturned, Ref
from duban.models import ProgressReportState
from tests.api.conftest import AsRole
from tests.api.sv_fixture import SvPlan, build
from tests.factories import make_report


def _november_facts(session: Session) -> SvPlan:
    """The shared plan plus November's reporting and review history.

    Expected November scores (computed at 2025-12-01, so as of the end of 30 November):
      县科技局 100 − 5 (a1: 10 working days × 0.5, capped at 5) − 1 (a1 no 2025-11 report)
               − 1 (a6 no 2025-11 report) − 1 (a1's October report rejected on 11-12) = 92
      县财政局 100 − 1 (a4 completed 2 working days late: Nov 3–4) − 1 (a2 no report)
               − 1 (a2 returned on 11-10) = 97             (a2 is 0 working days overdue)
      高沟镇   100 − 1 (a8 November report late, 11-27 > 11-25) + 1 (高新技术企业数 52 ≥ 50) = 100
    """
    f = build(session)
    make_report(
        session, assignment=f.a["a8"], period="2025-11", submitted_at=datetime(2025, 11, 27, 2, tzinfo=UTC)
    )
    make_report(
        session,
        assignment=f.a["a1"],
        period="2025-10",
        state=ProgressReportState.rejected,
        submitted_at=datetime(2025, 10, 24, 2, tzinfo=UTC),
        reviewed_at=datetime(2025, 11, 12, 2, tzinfo=UTC),
    )
    a2 = f.a["a2"]
    outbox.enqueue(
        session,
        event=AssignmentReturned(
            plan=Ref(id=f.plan.id),
            task=Ref(id=a2.task_id),
            unit=Ref(id=a2.unit_id),
            assignment_id=a2.id,
            state="returned",
            reason="不属于本单位职责",
        ),
        now=datetime(2025, 11, 10, 2, tzinfo=UTC),
        plan_id=f.plan.id,
        assignment_id=a2.id,
        unit_id=a2.unit_id,
    )
    session.commit()
    return f


def _scores(body: dict[str, Any]) -> dict[str, tuple[float, int]]:
    return {s["unit_name"]: (s["score"], s["rank"]) for s in body["scores"]}


def test_assessment_scores_breakdown_and_ranking(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    f = _november_facts(session)
    office = as_role("office")
    r = client.post(
        f"/api/v1/plans/{f.plan.id}/assessments",
        json={"period_kind": "month", "period_start": "2025-11-01"},
        headers=office,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["period_start"], body["period_end"], body["period_label"]) == (
        "2025-11-01",
        "2025-11-30",
        "2025年11月",
    )
    assert body["rule_version"] == 1
    assert _scores(body) == {"高沟镇": (100, 1), "县财政局": (97, 2), "县科技局": (92, 3)}
    for s in body["scores"]:
        assert abs(sum(line["points"] for line in s["breakdown"]) - s["score"]) < 1e-9
        assert all(line["text"] for line in s["breakdown"])
    tech = next(s for s in body["scores"] if s["unit_name"] == "县科技局")
    lines = [
        (x["rule"], x["item"] and x["item"].get("assignment_id"), x["quantity"], x["points"])
        for x in tech["breakdown"]
    ]
    assert lines == [
        ("base", None, 1, 100),
        ("overdue", f.a["a1"].id, 10, -5),
        ("missing_report", f.a["a1"].id, 1, -1),
        ("missing_report", f.a["a6"].id, 1, -1),
        ("returned_or_rejected", f.a["a1"].id, 1, -1),
    ]
    assert tech["breakdown"][1]["text"] == "任务1“强化高科技项目招引”逾期未办结，本期逾期10个工作日，扣5分"
    assert tech["breakdown"][1]["item"]["task_code"] == "1"
    town = next(s for s in body["scores"] if s["unit_name"] == "高沟镇")
    assert [x["rule"] for x in town["breakdown"]] == ["base", "late_report", "indicator_achieved"]
    fin = next(s for s in body["scores"] if s["unit_name"] == "县财政局")
    assert [(x["rule"], x["quantity"], x["points"]) for x in fin["breakdown"]] == [
        ("base", 1, 100),
        ("overdue", 2, -1),
        ("missing_report", 1, -1),
        ("returned_or_rejected", 1, -1),
    ]


def test_early_completion_credit_in_october(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    r = client.post(
        f"/api/v1/plans/{f.plan.id}/assessments",
        json={"period_kind": "month", "period_start": "2025-10-15"},
        headers=as_role("office"),
    )
    body = r.json()
    # October: a3 (科技, 10-20) and a5 (高沟, 10-15) finished before 10-31: +0.5 each. The October report
    # (due Saturday 10-25, moved to Monday 10-27) is owed by a1, a2, a4, a6, a8: −1 each. 高沟镇 also
    # holds 高新技术企业数 (52 on 09-30 ≥ 50): +1.
    assert _scores(body) == {"县科技局": (98.5, 2), "县财政局": (98, 3), "高沟镇": (100.5, 1)}


def test_rule_change_keeps_published_result(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = _november_facts(session)
    office = as_role("office")
    assert client.get(f"/api/v1/plans/{f.plan.id}/scoring-rules", headers=office).json()["version"] == 0
    first = client.post(
        f"/api/v1/plans/{f.plan.id}/assessments",
        json={"period_kind": "month", "period_start": "2025-11-01"},
        headers=office,
    ).json()
    pub = client.post(f"/api/v1/assessments/{first['id']}/publish", headers=office)
    assert pub.status_code == 200 and pub.json()["published_at"]
    assert client.post(f"/api/v1/assessments/{first['id']}/publish", headers=office).status_code == 409

    rules = client.get(f"/api/v1/plans/{f.plan.id}/scoring-rules", headers=office).json()
    assert rules["version"] == 1 and rules["config"]["overdue_per_working_day"] == 0.5
    put = client.put(
        f"/api/v1/plans/{f.plan.id}/scoring-rules",
        json={**rules["config"], "overdue_per_working_day": 1, "overdue_cap_per_item": 20},
        headers=office,
    )
    assert put.status_code == 200 and put.json()["version"] == 2
    second = client.post(
        f"/api/v1/plans/{f.plan.id}/assessments",
        json={"period_kind": "month", "period_start": "2025-11-01"},
        headers=office,
    ).json()
    assert second["rule_version"] == 2 and second["rule_id"] != first["rule_id"]
    assert _scores(second)["县科技局"] == (87, 3)  # 10 working days × 1, no longer capped at 5
    again = client.get(f"/api/v1/assessments/{first['id']}", headers=office).json()
    assert again["rule_id"] == first["rule_id"] and _scores(again) == _scores(first)
    assert again["published_at"] == pub.json()["published_at"]


def test_assessment_xlsx_and_unit_visibility(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = _november_facts(session)
    office = as_role("office")
    body = client.post(
        f"/api/v1/plans/{f.plan.id}/assessments",
        json={"period_kind": "month", "period_start": "2025-11-01"},
        headers=office,
    ).json()
    unit_headers = as_role("unit_head", unit=f.finance)
    assert client.get(f"/api/v1/assessments/{body['id']}", headers=unit_headers).status_code == 404
    client.post(f"/api/v1/assessments/{body['id']}/publish", headers=office)
    own = client.get(f"/api/v1/assessments/{body['id']}", headers=unit_headers).json()
    assert [s["unit_name"] for s in own["scores"]] == ["县财政局"]

    r = client.get(f"/api/v1/assessments/{body['id']}.xlsx", headers=office)
    assert r.status_code == 200
    wb = load_workbook(BytesIO(r.content))
    ranking = list(wb["排名"].iter_rows(min_row=3, values_only=True))
    assert ranking == [(1, "高沟镇", 100), (2, "县财政局", 97), (3, "县科技局", 92)]
    # Printed on A4 (paper size 9), numbered 「第 X 页 共 Y 页」, the header row on every page.
    for ws, title_rows in ((wb["排名"], "$2:$2"), (wb["得分明细"], "$1:$1")):
        assert int(ws.page_setup.paperSize) == 9 and ws.oddFooter.center.text == "第 &P 页 共 &N 页"
        assert ws.print_title_rows == title_rows
    detail = list(wb["得分明细"].iter_rows(min_row=2, values_only=True))
    assert len(detail) == sum(len(s["breakdown"]) for s in body["scores"])
    assert ("县科技局", "逾期", "1", "强化高科技项目招引", f.a["a1"].id, 10, -5) in [
        row[:7] for row in detail
    ]


def test_scoring_rules_validation_and_roles(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    bad = client.put(
        f"/api/v1/plans/{f.plan.id}/scoring-rules", json={"missing_report": -1}, headers=as_role("office")
    )
    assert bad.status_code == 422
    denied = client.post(
        f"/api/v1/plans/{f.plan.id}/assessments", json={"period_kind": "month"}, headers=as_role("viewer")
    )
    assert denied.status_code == 403
