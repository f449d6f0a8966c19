"""Word and Excel renderings of a bulletin: the forms an office edits and prints."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any, cast

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from api.bulletin.service import fmt_num
from api.stats.xlsx import CHINESE_DATE, print_setup, safe_cell
from duban import amounts, comparators, labels
from duban.text import for_xml_tree

_RAG_ZH = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}
_RAG_FILL = {"red": "F8CBAD", "yellow": "FFE699", "green": "C6EFCE"}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _font(
    run: Any,
    *,
    size: float | None = None,
    bold: bool = False,
    name: str = "仿宋_GB2312",
    color: RGBColor | None = None,
) -> None:
    run.font.name = name
    run._element.rPr.rFonts.set(qn("w:eastAsia"), name)
    if size:
        run.font.size = Pt(size)
    run.bold = bold
    if color is not None:
        run.font.color.rgb = color


def _table(doc: Any, head: list[str], rows: list[list[Any]]) -> None:
    table = doc.add_table(rows=1, cols=len(head))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, head, strict=True):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(text), bold=True, size=10.5)
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = ""
            _font(cell.paragraphs[0].add_run("—" if value is None else str(value)), size=10.5)


def _field(paragraph: Any, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES): Word fills in the number when it lays out the pages."""
    run = paragraph.add_run()
    _font(run, size=14)
    begin, code, separate, placeholder, end = (
        OxmlElement("w:fldChar"),
        OxmlElement("w:instrText"),
        OxmlElement("w:fldChar"),
        OxmlElement("w:t"),
        OxmlElement("w:fldChar"),
    )
    begin.set(qn("w:fldCharType"), "begin")
    code.set(qn("xml:space"), "preserve")
    code.text = f" {instruction} "
    separate.set(qn("w:fldCharType"), "separate")
    placeholder.text = "1"
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, code, separate, placeholder, end):
        run._r.append(element)


def page_setup(doc: Any) -> None:
    """A4 with the margins of GB/T 9704 (党政机关公文格式): top 37 mm, bottom 35 mm, left 28 mm,
    right 26 mm, and 「第 X 页 共 Y 页」 centred in the footer."""
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(footer.add_run("第 "), size=14)
        _field(footer, "PAGE")
        _font(footer.add_run(" 页 共 "), size=14)
        _field(footer, "NUMPAGES")
        _font(footer.add_run(" 页"), size=14)


def to_docx(c: dict[str, Any]) -> bytes:
    c = for_xml_tree(c)  # stored text may hold what XML cannot (U+0001, U+000B, U+FFFE)
    doc = Document()
    page_setup(doc)
    h = c["header"]
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run(h["issuer"]), size=22, bold=True, name="方正小标宋简体", color=RGBColor(0xC0, 0, 0))
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run(h["doc_no"]), size=16)
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run(c["title"]), size=18, bold=True, name="方正小标宋简体")

    def heading(text: str) -> None:
        para = doc.add_heading(level=1)
        _font(para.add_run(text), size=16, name="黑体")

    heading("一、总体情况")
    _font(doc.add_paragraph().add_run(c["summary"]["text"]), size=16)
    heading("二、分项推进情况")
    _table(
        doc,
        ["重点任务", "交办", "办结", "在办", "逾期", "办结率", "状态", "说明"],
        [
            [
                f"（{s['code']}）{s['name']}",
                s["total"],
                s["completed"],
                s["open"],
                s["overdue"],
                s["completion_rate"],
                _RAG_ZH[s["rag"]],
                s["rag_reason"],
            ]
            for s in c["sections"]
        ],
    )
    heading("三、主要指标完成情况")
    _table(
        doc,
        ["指标", "目标", "最新值", "完成进度", "状态", "说明"],
        [
            [
                i["name"],
                comparators.phrase(
                    i["comparator"], amounts.with_unit(i["target"], i["unit"], target=i["target"])
                ),
                amounts.with_unit(i["latest_value"], i["unit"], target=i["target"]),
                "—" if i["progress"] is None else f"{100 * i['progress']:.0f}%",
                _RAG_ZH.get(i["rag"], i["rag"]),
                i["rag_reason"],
            ]
            for i in c["indicators"]
        ],
    )
    heading("四、逾期及红灯事项")
    rows = [
        [g["unit_name"], f"{x['task_code']}", x["task_title"], labels.date_text(x["due_date"]), x["reason"]]
        for g in c["overdue_by_unit"]
        for x in g["items"]
    ]
    if rows:
        _table(doc, ["责任单位", "任务编号", "任务", "期限", "逾期情况"], rows)
    else:
        _font(doc.add_paragraph().add_run("本期无逾期事项。"), size=16)
    heading("五、表扬与通报")
    praise = "；".join(f"{u['unit_name']}（{u['reason']}）" for u in c["commended_units"]) or "无"
    named = "；".join(f"{u['unit_name']}（{u['reason']}）" for u in c["named_units"]) or "无"
    _font(doc.add_paragraph().add_run(f"予以表扬：{praise}。"), size=16)
    _font(doc.add_paragraph().add_run(f"通报批评（推进滞后）：{named}。"), size=16)
    heading("六、单位排名")
    _table(
        doc,
        ["名次", "单位", "得分"],
        [[r["rank"], r["unit_name"], fmt_num(r["score"])] for r in c["ranking"]],
    )
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _font(p.add_run(f"{h['issuer']}\n{h['date_text']}"), size=16)
    buf = BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _whole_if_count(value: float | None, unit: str | None, target: float | None) -> float | int | None:
    if value is None or not amounts.is_countable(unit, target):
        return value
    return amounts.whole(value)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def to_xlsx(c: dict[str, Any]) -> bytes:
    c = for_xml_tree(c)
    wb = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, head: list[str], rows: list[list[Any]], rag_col: int | None = None) -> None:
        ws = wb.create_sheet(title)
        ws.append(head)
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append([safe_cell(v) for v in row])
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, date):
                    cell.number_format = CHINESE_DATE
            if rag_col is not None:
                rag = row[rag_col]
                ws.cell(ws.max_row, rag_col + 1).value = _RAG_ZH.get(rag, rag)
                ws.cell(ws.max_row, rag_col + 1).fill = PatternFill(
                    "solid", fgColor=_RAG_FILL.get(rag, "FFFFFF")
                )
        for column in ws.columns:
            width = max(len(str(c.value or "")) for c in column)
            ws.column_dimensions[column[0].column_letter].width = min(60, 4 + 2 * width)
        print_setup(ws, title_rows="1:1")

    ws = cast(Worksheet, wb.active)  # a new workbook has one worksheet
    ws.title = "概况"
    h = c["header"]
    for row in ([c["title"]], [h["issuer"]], [h["doc_no"]], [h["date_text"]], [], [c["summary"]["text"]]):
        ws.append([safe_cell(v) for v in row])
    ws["A1"].font = Font(bold=True, size=14)
    ws["A6"].alignment = Alignment(wrap_text=True)
    ws.column_dimensions["A"].width = 100
    print_setup(ws)
    sheet(
        "分项进展",
        ["编号", "重点任务", "交办", "办结", "在办", "逾期", "办结率", "状态", "说明"],
        [
            [
                s["code"],
                s["name"],
                s["total"],
                s["completed"],
                s["open"],
                s["overdue"],
                s["completion_rate"],
                s["rag"],
                s["rag_reason"],
            ]
            for s in c["sections"]
        ],
        rag_col=7,
    )
    sheet(
        "主要指标",
        ["指标", "比较", "目标", "单位", "最新值", "完成进度", "状态", "说明"],
        [
            [
                i["name"],
                comparators.word(i["comparator"]),
                i["target"],
                i["unit"],
                # A count is whole in the cell too; amounts keep their value as entered.
                _whole_if_count(i["latest_value"], i["unit"], i["target"]),
                None if i["progress"] is None else round(i["progress"], 4),
                i["rag"],
                i["rag_reason"],
            ]
            for i in c["indicators"]
        ],
        rag_col=6,
    )
    sheet(
        "逾期事项",
        ["责任单位", "任务编号", "任务", "期限", "逾期工作日", "说明"],
        [
            [
                g["unit_name"],
                x["task_code"],
                x["task_title"],
                _day(x["due_date"]),
                x["working_days_overdue"],
                x["reason"],
            ]
            for g in c["overdue_by_unit"]
            for x in g["items"]
        ],
    )
    sheet(
        "表扬与通报",
        ["类别", "单位", "说明"],
        [["表扬", u["unit_name"], u["reason"]] for u in c["commended_units"]]
        + [["通报", u["unit_name"], u["reason"]] for u in c["named_units"]],
    )
    sheet(
        "单位排名", ["名次", "单位", "得分"], [[r["rank"], r["unit_name"], r["score"]] for r in c["ranking"]]
    )
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
