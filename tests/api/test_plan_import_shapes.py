"""Each document shape of issue 10 (item 5) through the import endpoint, on SQLite and PostgreSQL:
the dry-run preview carries the codes, units and deadlines the reader found, and a real import
stores them so. The documents are tests/plandoc/corpus/*.txt (see tests/plandoc/test_shapes.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from duban.models import Plan, Task, TaskUnit, Unit, UnitGroup, UnitRole
from tests.api.conftest import AsRole

CORPUS = Path(__file__).resolve().parents[1] / "plandoc" / "corpus"

# shape file → {task code: (lead units, co units, due)} for every task the document holds.
Expected = dict[str, tuple[list[str], list[str], date | None]]
SHAPES: dict[str, Expected] = {
    # （一）1．2．（二）1．2．: codes by section path
    "restart_numbering": {
        "一.1": (["区行政审批局"], ["区数据局"], date(2025, 12, 31)),  # 2025年度
        "一.2": (["区行政审批局"], ["区市场监管局"], date(2025, 6, 30)),
        "一.3": (["区行政审批局"], ["区发改委"], date(2025, 12, 31)),
        "二.1": (["区自然资源和规划局"], [], date(2025, 12, 31)),
        "二.2": (["区金融监管局"], ["人民银行青河支行"], date(2025, 12, 31)),
        "三.1": (["区司法局"], ["区市场监管局"], date(2025, 12, 31)),
        "三.2": (["区司法局"], [], date(2025, 9, 30)),
    },
    # （一） headings that are the tasks, （责任单位：…） on the next line; （2019—2021）; 长期坚持
    "heading_tasks": {
        "一": (["市体育局"], ["市发展改革委", "市自然资源和规划局", "市住房城乡建设局"], date(2021, 12, 31)),
        "二": (["市体育局"], ["市总工会", "团市委"], date(2021, 12, 31)),
        "三": (["市卫生健康委"], ["市体育局", "市医保局"], date(2019, 3, 31)),
        "四": (["市教育局"], ["市体育局"], None),
    },
    # 支撑/协同 units, several leads, a generic unit beside the marked lead
    "unit_roles": {
        "一": (["区城管局"], ["区自然资源和规划局", "区住建局"], date(2024, 9, 30)),
        "二": (["区城管局"], ["区相关行政执法部门"], date(2025, 12, 31)),
        "三": (["区城管局", "区市场监管局"], [], date(2024, 12, 31)),
        "四": (["区城管局", "区交通运输局", "区公安分局交警大队"], ["区住建局"], date(2025, 12, 31)),
        "五": (["区城管局"], ["区教育局", "区商务局"], date(2025, 12, 31)),
        "六": (["区市场监管局"], ["区城管局", "区生态环境分局", "区供电公司"], date(2025, 12, 31)),
        "七": (["区应急管理局"], ["区相关行政执法部门"], date(2025, 12, 31)),
    },
    # 任务分解表 with merged cells and an indicator grid; 2027年 / 2028年底 / 2024年3月 / 长期坚持
    "breakdown_table": {
        "1": (["县农业农村局"], ["县发改委", "县财政局", "县统计局"], date(2024, 12, 31)),
        "2": (["县农业农村局"], ["县自然资源局", "县水利局"], date(2024, 10, 31)),
        "3": (["县自然资源局"], [], None),
        "4": (["县农业农村局"], ["县商务局", "县市场监管局"], date(2027, 12, 31)),
        "5": (["县农业农村局"], ["县市场监管局", "县文旅局"], date(2028, 12, 31)),
        "6": (["县农业农村局"], ["县卫健委"], date(2024, 3, 31)),
    },
    # 推进单位/责任单位 columns in an attachment, then an indicator table
    "breakdown_table_tuijin": {
        "1": (["区工信局"], ["区商务局", "区投促中心"], date(2026, 12, 31)),
        "2": (["区工信局"], ["区发改委", "区自然资源局"], date(2025, 12, 31)),
        "3": (["区工信局"], ["区住建局", "区城管局"], date(2026, 12, 31)),
        "4": (["区工信局"], ["区科技局"], None),
        "5": (["区农业农村局"], [], date(2025, 6, 30)),
    },
}
DOC_NO = {
    "restart_numbering": "青政办发〔2025〕8号",
    "heading_tasks": "南府发〔2019〕6号",
    "breakdown_table": "清政办发〔2024〕15号",
}


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _stored(session: Session, plan: Plan) -> Expected:
    names: dict[tuple[str, int], str] = {
        ("unit", i): n for i, n in session.execute(select(Unit.id, Unit.name)).all()
    } | {("group", i): n for i, n in session.execute(select(UnitGroup.id, UnitGroup.name)).all()}
    out: Expected = {}
    tasks = session.exec(select(Task).where(Task.plan_id == plan.id).order_by(col(Task.position))).all()
    for task in tasks:
        rows = session.exec(
            select(TaskUnit).where(TaskUnit.task_id == task.id).order_by(col(TaskUnit.position))
        ).all()

        def named(role: UnitRole, rows: Any = rows) -> list[str]:
            return [
                r.label or names[("unit", r.unit_id)]
                if r.unit_id
                else r.label or names[("group", r.group_id)]
                for r in rows
                if r.role == role
            ]

        out[task.code] = (named(UnitRole.lead), named(UnitRole.co), task.due_date)
    return out


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_shape_previews_and_imports_as_read(
    name: str, client: TestClient, as_role: AsRole, session: Session
) -> None:
    headers = as_role("office")
    data = (CORPUS / f"{name}.txt").read_bytes()
    files = {"file": (f"{name}.txt", data, "text/plain")}
    expected = SHAPES[name]

    r = client.post("/api/v1/plans/import", params={"dry_run": "true"}, files=files, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True
    doc = body["document"]
    assert doc["plan"]["doc_no"] == DOC_NO.get(name)
    previewed = {
        t["code"]: (t["lead_units"], t["co_units"], t["due"]) for s in doc["sections"] for t in s["tasks"]
    }
    assert previewed == {code: (lead, co, _iso(due)) for code, (lead, co, due) in expected.items()}
    assert body["summary"]["tasks"] == len(expected)
    assert session.exec(select(Plan)).all() == []

    r = client.post("/api/v1/plans/import", files=files, headers=headers)
    assert r.status_code in (200, 201), r.text
    session.expire_all()
    plan = session.exec(select(Plan)).one()
    assert plan.doc_no == DOC_NO.get(name)
    stored = _stored(session, plan)
    assert list(stored) == list(expected)
    for code, (lead, co, due) in expected.items():
        assert stored[code][:2] == (lead, co), code
        if due is not None:  # a task without a deadline: test_an_ongoing_task_is_stored_without_a_deadline
            assert stored[code][2] == due, code


def test_an_ongoing_task_is_stored_without_a_deadline(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    data = (CORPUS / "heading_tasks.txt").read_bytes()
    r = client.post(
        "/api/v1/plans/import", files={"file": ("p.txt", data, "text/plain")}, headers=as_role("office")
    )
    assert r.status_code in (200, 201), r.text
    session.expire_all()
    task = session.exec(select(Task).where(Task.code == "四")).one()
    assert task.due_date is None  # 长期坚持
