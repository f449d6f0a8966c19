from __future__ import annotations

import re
from datetime import date, datetime
from io import BytesIO

from docx import Document
from docx.oxml.ns import qn
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from duban.models import AssignmentState, AuditEntry, OutboxEvent, UnitKind
from tests.api.conftest import AsRole
from tests.api.sv_factories import make_sv_assignment
from tests.api.sv_fixture import build
from tests.factories import make_plan, make_section, make_task, make_unit

NOVEMBER = {"period_kind": "month", "period_start": "2025-11-01"}


def test_bulletin_content_numbers(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    r = client.post(f"/api/v1/plans/{f.plan.id}/bulletins", json=NOVEMBER, headers=as_role("office"))
    assert r.status_code == 201, r.text
    b = r.json()
    c = b["content"]
    assert (b["version"], b["period_start"], b["period_end"]) == (1, "2025-11-01", "2025-11-30")
    assert b["title"] == "关于涟水县科技创新行动计划（2024—2025年）推进情况的通报（2025年11月）"
    assert c["header"]["doc_no"] == "督办通报〔2025〕第1期"
    # Generated on 1 December, the November bulletin describes the end of November: a6's December
    # report (submitted 1 December) is not in it, and no November report was.
    assert c["summary"]["text"] == (
        "截至2025年11月30日，涟水县科技创新行动计划（2024—2025年）共交办任务8项，已办结3项（按期办结1项、"
        "延期后办结1项、逾期办结1项），正在推进4项，其中逾期未办结2项、最长逾期10个工作日。"
        "2025年11月办结1项；本期进展报送率0.0%。"
    )
    assert (c["as_of"], c["as_of_date"], c["header"]["date"]) == (
        "2025-11-30T16:00:00+00:00",
        "2025-11-30",
        "2025-12-01",
    )
    assert [
        (s["code"], s["total"], s["completed"], s["overdue"], s["completion_rate"], s["rag"])
        for s in c["sections"]
    ] == [("一", 5, 2, 2, "40.0%", "red"), ("二", 3, 1, 0, "33.3%", "yellow"), ("三", 0, 0, 0, "—", "green")]
    assert [
        (g["unit_name"], [(x["task_code"], x["working_days_overdue"]) for x in g["items"]])
        for g in c["overdue_by_unit"]
    ] == [("县科技局", [("1", 10)]), ("县财政局", [("1", 0)])]
    assert c["named_units"] == [
        {"unit_name": "县科技局", "reason": "逾期10个工作日"},
        {"unit_name": "县财政局", "reason": "逾期不足1个工作日"},
    ]
    # 高沟镇 owed a8's November report on 25 November and had not sent it by the month's end: yellow,
    # so not commended (on 1 December the December period had begun and it read green).
    assert c["commended_units"] == []
    assert next(u for u in c["ranking"] if u["unit_name"] == "高沟镇")
    # Default rules, November: 科技 100 − 5 − 1 − 1; 财政 100 − 1 − 1; 高沟 100 − 1 + 1.
    assert [(x["rank"], x["unit_name"], x["score"]) for x in c["ranking"]] == [
        (1, "高沟镇", 100),
        (2, "县财政局", 98),
        (3, "县科技局", 93),
    ]
    assert {i["name"]: i["achieved"] for i in c["indicators"]} == {
        "全社会研发投入占GDP比重": False,
        "高新技术企业数": True,
    }
    md = b["markdown"]
    assert (
        "## 二、分项推进情况" in md
        and "| （一）实施创新主体培育攻坚行动 | 5 | 2 | 3 | 2 | 40.0% | 红灯 |" in md
    )
    assert "- 任务1“强化高科技项目招引”，期限2025年11月14日，逾期10个工作日" in md


def test_regenerate_adds_a_version_and_publish_writes_one_event(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    f = build(session)
    office = as_role("office")
    first = client.post(f"/api/v1/plans/{f.plan.id}/bulletins", json=NOVEMBER, headers=office).json()
    second = client.post(f"/api/v1/plans/{f.plan.id}/bulletins", json=NOVEMBER, headers=office).json()
    assert (first["version"], second["version"]) == (1, 2)
    assert second["content"]["header"]["doc_no"] == "督办通报〔2025〕第1期"

    r = client.post(f"/api/v1/bulletins/{second['id']}/publish", headers=office)
    assert r.status_code == 200 and r.json()["published_at"]
    assert client.post(f"/api/v1/bulletins/{second['id']}/publish", headers=office).status_code == 409
    events = session.exec(select(OutboxEvent).where(OutboxEvent.type == "bulletin.published")).all()
    assert len(events) == 1
    data = events[0].payload["data"]
    assert (data["bulletin_id"], data["version"], data["period_kind"], data["period_start"]) == (
        second["id"],
        2,
        "month",
        "2025-11-01",
    )
    assert events[0].plan_id == f.plan.id
    audits = session.exec(select(AuditEntry).where(AuditEntry.action == "bulletin.publish")).all()
    assert [a.entity_id for a in audits] == [str(second["id"])]

    unit = as_role("unit_staff", unit=f.town)
    listed = client.get("/api/v1/bulletins", params={"plan_id": f.plan.id}, headers=unit).json()["items"]
    assert [x["id"] for x in listed] == [second["id"]]
    assert client.get(f"/api/v1/bulletins/{first['id']}", headers=unit).status_code == 404
    all_ = client.get("/api/v1/bulletins", params={"plan_id": f.plan.id}, headers=as_role("leader")).json()[
        "items"
    ]
    assert [x["id"] for x in all_] == [second["id"], first["id"]]


def test_bulletin_docx_export(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    office = as_role("office")
    b = client.post(f"/api/v1/plans/{f.plan.id}/bulletins", json=NOVEMBER, headers=office).json()
    r = client.get(f"/api/v1/bulletins/{b['id']}.docx", headers=office)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml"
    )
    doc = Document(BytesIO(r.content))
    texts = [p.text for p in doc.paragraphs]
    assert texts[1] == "督办通报〔2025〕第1期"
    assert texts[2] == b["title"]
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [
        "一、总体情况",
        "二、分项推进情况",
        "三、主要指标完成情况",
        "四、逾期及红灯事项",
        "五、表扬与通报",
        "六、单位排名",
    ]
    sections, indicators, overdue, ranking = doc.tables
    assert [c.text for c in sections.rows[1].cells] == [
        "（一）实施创新主体培育攻坚行动",
        "5",
        "2",
        "3",
        "2",
        "40.0%",
        "红灯",
        "2项逾期，最长逾期10个工作日",
    ]
    assert [c.text for c in overdue.rows[1].cells] == [
        "县科技局",
        "1",
        "强化高科技项目招引",
        "2025年11月14日",
        "逾期10个工作日",
    ]
    assert [[c.text for c in row.cells] for row in ranking.rows[1:]] == [
        ["1", "高沟镇", "100"],
        ["2", "县财政局", "98"],
        ["3", "县科技局", "93"],
    ]
    assert indicators.rows[2].cells[0].text == "高新技术企业数"
    md = client.get(f"/api/v1/bulletins/{b['id']}.md", headers=office)
    assert md.status_code == 200 and md.text == b["markdown"]
    same = client.get(f"/api/v1/bulletins/{b['id']}/export", params={"format": "docx"}, headers=office)
    assert same.status_code == 200 and Document(BytesIO(same.content)).tables


def test_bulletin_xlsx_export_escapes_formulas(client: TestClient, as_role: AsRole, session: Session) -> None:
    plan = make_plan(session, title="公式测试计划")
    section = make_section(session, plan=plan, code="一", title='=HYPERLINK("http://x")')
    task = make_task(session, plan=plan, section=section, code="1", title="-2+3")
    unit = make_unit(session, name="@SUM(A1)单位")
    make_sv_assignment(
        session, task=task, unit=unit, state=AssignmentState.accepted, due_date=date(2025, 11, 14)
    )
    session.commit()
    office = as_role("office")
    b = client.post(f"/api/v1/plans/{plan.id}/bulletins", json=NOVEMBER, headers=office).json()
    r = client.get(f"/api/v1/bulletins/{b['id']}.xlsx", headers=office)
    assert r.status_code == 200
    wb = load_workbook(BytesIO(r.content))
    assert wb.sheetnames == ["概况", "分项进展", "主要指标", "逾期事项", "表扬与通报", "单位排名"]
    assert wb["概况"]["A1"].value == b["title"]
    row = [c.value for c in wb["分项进展"][2]]
    assert row[:8] == ["一", '\'=HYPERLINK("http://x")', 1, 0, 1, 1, "0.0%", "红灯"]
    overdue = [c.value for c in wb["逾期事项"][2]]
    assert overdue[:5] == ["'@SUM(A1)单位", "1", "'-2+3", datetime(2025, 11, 14), 10]
    # A real date, shown the Chinese way.
    assert wb["逾期事项"]["D2"].number_format == 'yyyy"年"m"月"d"日"'
    for ws in wb.worksheets:
        assert int(ws.page_setup.paperSize) == 9 and ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    for ws in wb.worksheets:
        for cells in ws.iter_rows():
            for cell in cells:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    assert session.exec(select(OutboxEvent).where(col(OutboxEvent.type) == "bulletin.published")).all() == []


def test_bulletin_roles_and_validation(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    assert (
        client.post(
            f"/api/v1/plans/{f.plan.id}/bulletins", json=NOVEMBER, headers=as_role("leader")
        ).status_code
        == 403
    )
    bad = client.post(
        f"/api/v1/plans/{f.plan.id}/bulletins", json={"period_kind": "decade"}, headers=as_role("office")
    )
    assert bad.status_code == 422
    assert client.get("/api/v1/bulletins/999999.docx", headers=as_role("office")).status_code == 404


def test_bulletin_docx_prints_like_an_office_document(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    f = build(session)
    f.plan.issuer = "涟水县人民政府办公室"  # who printed the plan; the bulletin is the office's
    make_unit(session, name="县科技创新工作领导小组办公室", kind=UnitKind.office)
    quoted_task = make_task(
        session, plan=f.plan, section=f.s2, code="4", title="着力打造“涟-溧科创飞地”", position=4
    )
    # Two overdue at 县财政局 (0 and 2 working days), one at 县科技局 (10): 财政 is named first.
    make_sv_assignment(
        session,
        task=quoted_task,
        unit=f.finance,
        state=AssignmentState.accepted,
        due_date=date(2025, 11, 26),
    )
    session.commit()
    office = as_role("office")
    b = client.post(f"/api/v1/plans/{f.plan.id}/bulletins", json=NOVEMBER, headers=office).json()
    c = b["content"]
    assert c["header"]["issuer"] == "县科技创新工作领导小组办公室"
    assert [u["unit_name"] for u in c["named_units"]] == ["县财政局", "县科技局"]
    assert "- 任务4“着力打造‘涟-溧科创飞地’”，期限2025年11月26日，" in b["markdown"]
    assert "| 高新技术企业数 | 不低于50家 | 52家 |" in b["markdown"]
    assert "| 全社会研发投入占GDP比重 | 不低于1.8% | 1.5% |" in b["markdown"]

    r = client.get(f"/api/v1/bulletins/{b['id']}.docx", headers=office)
    doc = Document(BytesIO(r.content))
    [section] = doc.sections
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)  # A4, not Letter
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin)] == [37, 35]
    assert [round(m.mm) for m in (section.left_margin, section.right_margin)] == [28, 26]
    footer = section.footer.paragraphs[0]
    codes = [t.text.strip() for t in footer._p.iter(qn("w:instrText"))]
    assert codes == ["PAGE", "NUMPAGES"]
    assert footer.text == "第 1 页 共 1 页"  # the fields' placeholders, around the fixed words
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "县科技创新工作领导小组办公室"
    assert texts[-1] == "县科技创新工作领导小组办公室\n2025年12月1日"
    body = "\n".join(texts + [cell.text for t in doc.tables for row in t.rows for cell in row.cells])
    assert not re.search(r"\d{4}-\d{2}-\d{2}", body), "no ISO dates in a printed document"
    assert ">=" not in body and "不低于1.8%" in body
    indicators = doc.tables[1]
    assert [cell.text for cell in indicators.rows[2].cells[:3]] == ["高新技术企业数", "不低于50家", "52家"]


def test_bulletin_counts_tasks_outside_every_section(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    # A task need not belong to a section (section_id is optional): its assignments are one more row,
    # not a 500 for the whole bulletin and its exports.
    f = build(session)
    task = make_task(session, plan=f.plan, section=None, code="99", title="未分节的任务")
    make_sv_assignment(session, task=task, unit=f.town, due_date=date(2025, 11, 20))
    office = as_role("office")
    r = client.post(f"/api/v1/plans/{f.plan.id}/bulletins", json=NOVEMBER, headers=office)
    assert r.status_code == 201, r.text
    other = [s for s in r.json()["content"]["sections"] if s["name"] == "其他任务"]
    assert len(other) == 1 and other[0]["code"] == "" and other[0]["total"] == 1
    for ext in ("md", "docx", "xlsx"):
        assert client.get(f"/api/v1/bulletins/{r.json()['id']}.{ext}", headers=office).status_code == 200
