from __future__ import annotations

import io
import json
from datetime import date

import pytest
from docx import Document
from openpyxl import load_workbook

from plandoc import UnsupportedFormat, detect_format, export_xlsx, parse, parse_text, to_json
from plandoc.interchange import PlanDoc, PlanMeta, SectionDoc, TaskDoc
from plandoc.xlsx import escape_cell, unescape_cell

from .pdfmake import make_pdf
from .shared import corpus_text, seed_text

SMALL_PLAN = [
    "某县科技创新行动计划(2024-2025年)",
    "三、重点任务",
    "(一)实施创新主体培育攻坚行动",
    "1. 强化高科技项目招引。到2025年，新招引高科技项目50个。(责任单位:县科技局、县招商办按职责分工负责)",
    "2. 加快培育创新型企业集群。2025年6月底前建立培育库。(责任单位:县工信局)",
]


def _docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_paragraphs_read_like_text() -> None:
    data = _docx_bytes(seed_text().splitlines())
    assert detect_format(data) == "docx"
    from_docx = parse(data)
    assert from_docx == parse_text(seed_text())
    assert len(from_docx.document.tasks()) == 15


def test_docx_breakdown_table() -> None:
    table = [
        ["序号", "重点任务", "具体任务", "牵头单位", "配合单位", "完成时限"],
        [
            "1",
            "（一）实施创新主体培育攻坚行动",
            "强化高科技项目招引",
            "县科技局",
            "县招商办、县工信局",
            "2025年底前",
        ],
        [
            "2",
            "（一）实施创新主体培育攻坚行动",
            "加快培育创新型企业集群",
            "县科技局",
            "各镇街",
            "2025年6月底前",
        ],
        ["3", "（二）实施创新平台能级提升行动", "提档升级科创载体平台", "", "", "长期"],
    ]
    result = parse(_docx_bytes(["某县任务分解方案"], table), filename="分解表.docx")
    sections = result.document.sections
    assert [(s.code, s.title, len(s.tasks)) for s in sections] == [
        ("一", "实施创新主体培育攻坚行动", 2),
        ("二", "实施创新平台能级提升行动", 1),
    ]
    t1, t2, t3 = result.document.tasks()
    assert (t1.lead_units, t1.co_units, t1.due) == (
        ["县科技局"],
        ["县招商办", "县工信局"],
        date(2025, 12, 31),
    )
    assert (t2.co_units, t2.implementing_units, t2.due) == ([], ["各镇街"], date(2025, 6, 30))
    assert t3.due is None and t3.all_units() == []
    assert [w.code for w in result.warnings] == ["task.no_unit"]


def test_pdf_text_layer_with_wrapped_lines() -> None:
    wrapped: list[str] = []
    for line in SMALL_PLAN:
        wrapped.extend(line[i : i + 30] for i in range(0, len(line), 30))
    data = make_pdf(["— 1 —", *wrapped])
    assert detect_format(data) == "pdf"
    result = parse(data)
    tasks = result.document.tasks()
    assert [t.title for t in tasks] == ["强化高科技项目招引", "加快培育创新型企业集群"]
    assert tasks[0].lead_units == ["县科技局"] and tasks[0].co_units == ["县招商办"]
    assert tasks[1].due == date(2025, 6, 30)
    assert result.warnings == []


@pytest.mark.parametrize("source", ["seed", "01", "02", "03", "04", "05", "06", "07", "08"])
def test_xlsx_export_import_yields_the_same_plan(source: str) -> None:
    text = seed_text() if source == "seed" else corpus_text(source)
    doc = parse_text(text).document
    data = export_xlsx(doc)
    assert detect_format(data) == "xlsx"
    back = parse(data, filename="plan.xlsx")
    assert back.document == doc


def test_xlsx_one_row_per_task_and_unit() -> None:
    doc = parse_text(seed_text()).document
    wb = load_workbook(io.BytesIO(export_xlsx(doc)))
    rows = list(wb["任务分解表"].iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:8] == [
        "序号",
        "上级序号",
        "重点任务",
        "具体任务",
        "任务描述",
        "牵头单位",
        "配合单位",
        "落实单位",
    ]
    first_task = [r for r in rows[1:] if r[0] == "1"]
    # 1 lead + 6 co + 2 implementing
    assert [(r[header.index("单位")], r[header.index("角色")]) for r in first_task] == [
        ("县科技局", "牵头"),
        *[
            (u, "配合")
            for u in ["县招商办", "县工信局", "县发改委", "县商务局", "县农业农村局", "县自然资源和规划局"]
        ],
        ("各镇街", "落实"),
        ("经济开发区", "落实"),
    ]
    assert len(rows) - 1 == sum(len(t.all_units()) for t in doc.tasks())


def test_xlsx_escapes_formula_like_cells() -> None:
    doc = PlanDoc(
        plan=PlanMeta(title='=HYPERLINK("http://evil")', issuer="@SUM(1)"),
        sections=[
            SectionDoc(
                code="一",
                title="+cmd|' /C calc'!A0",
                tasks=[
                    TaskDoc(
                        code="1",
                        title="-2+3",
                        description="'quoted already",
                        lead_units=["=1+1"],
                        due=date(2025, 1, 31),
                    )
                ],
            )
        ],
    )
    data = export_xlsx(doc)
    wb = load_workbook(io.BytesIO(data))
    sheet = wb["任务分解表"]
    values = [c.value for row in sheet.iter_rows(min_row=2) for c in row]
    assert "'-2+3" in values and "'=1+1" in values and "''quoted already" in values
    assert all(not (isinstance(v, str) and v.startswith(("=", "+", "-", "@"))) for v in values)
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    assert parse(data).document == doc


def test_escape_is_reversible() -> None:
    for value in ["=A1", "+1", "-1", "@x", "'x", "''", "\tx", "plain", "县科技局", ""]:
        assert unescape_cell(escape_cell(value)) == value


def test_hand_made_sheet_with_title_block_and_merged_groups() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["县域科技创新跃升行动任务分解表"])
    ws.append(["序号", "重点任务", "具体任务", "牵头单位", "配合单位", "完成时限", "目标"])
    ws.append(
        [
            1,
            "（一）实施创新主体培育攻坚行动",
            "强化高科技项目招引",
            "县科技局",
            "县招商办",
            "2025-12-31",
            "每年新招引高科技项目50个以上",
        ]
    )
    ws.append([2, None, "加快培育创新型企业集群", "县科技局", "各有关单位", "2025年6月底前", ""])
    ws.append([3, None, "全力推动关键技术攻关", "县科技局", "", "尽快", ""])
    buf = io.BytesIO()
    wb.save(buf)
    result = parse(buf.getvalue())
    tasks = result.document.tasks()
    assert [t.code for t in tasks] == ["1", "2", "3"]
    assert len(result.document.sections) == 1
    target = tasks[0].targets[0]
    assert (target.value, target.unit, target.comparator, target.cadence) == (50, "个", ">=", "annual")
    assert tasks[1].due == date(2025, 6, 30)
    # row 4 names a generic co-unit; row 5's 尽快 is no date
    assert [(w.code, w.line) for w in result.warnings] == [("unit.generic", 4), ("deadline.ambiguous", 5)]


def test_parse_detects_formats_and_encodings() -> None:
    text = "\n".join(SMALL_PLAN)
    assert parse(text).document.tasks()[0].title == "强化高科技项目招引"
    assert parse(text.encode("gb18030")) == parse(text)
    assert parse(text.encode("utf-8")) == parse(text)
    as_json = to_json(parse(text))
    assert set(as_json) == {"document", "warnings"}
    assert parse(json.dumps(as_json, ensure_ascii=False)) == parse(text)
    assert parse(json.dumps(as_json["document"]).encode()) == parse(text)
    assert detect_format(b"{}") == "json"
    with pytest.raises(UnsupportedFormat):
        parse(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnsupportedFormat):
        parse(text, format="csv")


def test_text_as_offices_save_it_utf16_gb18030_gbk() -> None:
    """Notepad's 「Unicode」 (UTF-16 LE with its mark), big endian, no mark, GB18030 and GBK."""
    from pathlib import Path

    from plandoc import parse

    from .shared import shared_dir

    text = (shared_dir() / "seeds" / "lianshui-2024-2025-plan.txt").read_text(encoding="utf-8")
    expected = parse(text.encode()).document
    for name, data in (
        ("utf-16", text.replace("\n", "\r\n").encode("utf-16")),
        ("utf-16-be", b"\xfe\xff" + text.encode("utf-16-be")),
        ("utf-16-le without its mark", text.encode("utf-16-le")),
        ("utf-32", text.encode("utf-32")),
        ("gb18030", text.encode("gb18030")),
        ("gbk", text.encode("gbk")),
    ):
        assert parse(data, filename=Path("计划.txt").name).document == expected, name
        assert parse(data).document == expected, name  # sniffed without a file name too
    assert parse('{"plan": {"title": "甲"}}'.encode("utf-16")).document.plan.title == "甲"
