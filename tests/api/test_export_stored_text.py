"""Text stored before input was checked (U+0001, U+000B, U+FFFE in a title) never breaks an export:
the .xlsx and .docx of plans and bulletins drop what XML cannot carry."""

from __future__ import annotations

from datetime import date
from io import BytesIO

from docx import Document
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from duban.models import AssignmentState
from duban.text import for_xml
from tests.api.conftest import AsRole
from tests.api.sv_factories import make_sv_assignment
from tests.factories import make_plan, make_section, make_task, make_task_unit, make_unit

BAD = "\u0001\u000b\ufffe\u001f\uffff"  # NUL: PostgreSQL never stores it


def _world(session: Session) -> int:
    plan = make_plan(session, title=f"科技创新{BAD}行动计划", doc_no=f"涟政办发{BAD}〔2024〕7号")
    section = make_section(session, plan=plan, code="一", title=f"实施{BAD}攻坚行动")
    task = make_task(
        session,
        plan=plan,
        section=section,
        code="1",
        title=f"强化\u000b项目{BAD}招引",
        description=f"说明{BAD}第二行",
    )
    unit = make_unit(session, name=f"县科技局{BAD}")
    make_task_unit(session, task=task, unit=unit, role="lead")
    make_sv_assignment(
        session, task=task, unit=unit, state=AssignmentState.accepted, due_date=date(2025, 11, 14)
    )
    session.commit()
    assert plan.id is not None
    return plan.id


def _xlsx_texts(content: bytes) -> list[str]:
    wb = load_workbook(BytesIO(content))
    return [
        str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
    ]


def test_plan_export_with_control_characters_stored(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    plan_id = _world(session)
    r = client.get(f"/api/v1/plans/{plan_id}/export.xlsx", headers=as_role("office"))
    assert r.status_code == 200, r.text[:300]
    texts = _xlsx_texts(r.content)
    assert "科技创新\n行动计划" in texts
    assert any(t.startswith("强化\n项目\n招引") for t in texts), texts


def test_bulletin_exports_with_control_characters_stored(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    plan_id = _world(session)
    office = as_role("office")
    r = client.post(
        f"/api/v1/plans/{plan_id}/bulletins",
        json={"period_kind": "month", "period_start": "2025-11-01"},
        headers=office,
    )
    assert r.status_code == 201, r.text[:300]
    bulletin = r.json()
    docx = client.get(f"/api/v1/bulletins/{bulletin['id']}.docx", headers=office)
    assert docx.status_code == 200, docx.text[:300]
    doc = Document(BytesIO(docx.content))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert any("县科技局" in c for c in cells), cells
    assert all(for_xml(c) == c for c in cells)
    xlsx = client.get(f"/api/v1/bulletins/{bulletin['id']}.xlsx", headers=office)
    assert xlsx.status_code == 200, xlsx.text[:300]
    texts = _xlsx_texts(xlsx.content)
    assert any("县科技局" in t for t in texts)
    assert all(for_xml(t) == t for t in texts)
    md = client.get(f"/api/v1/bulletins/{bulletin['id']}.md", headers=office)
    assert md.status_code == 200


def test_for_xml() -> None:
    assert for_xml("a\u000bb\u000cc") == "a\nb\nc"
    assert for_xml("a\u0001\ufffe\uffff\u0000b\td\ne\rf") == "ab\td\ne\rf"
    assert for_xml("县科技局") == "县科技局"
