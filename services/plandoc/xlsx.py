"""任务分解表 as .xlsx: one row per task and unit; plan metadata, indicators and targets on their own sheets.

Export → import yields the same PlanDoc. Cells that a spreadsheet would run as a formula (= + - @,
tab, CR) are written with a leading single quote and read back without it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from duban import comparators
from duban.text import for_xml

from .dates import parse_due_cell
from .interchange import (
    ImportResult,
    ImportWarning,
    IndicatorDoc,
    Period,
    PlanDoc,
    PlanMeta,
    SectionDoc,
    TargetDoc,
    TaskDoc,
)
from .limits import CellBudget, check_archive, check_sheets
from .notes import note
from .tables import ROLE_LABELS, Row, build_sections, format_section_label, row_from_cells
from .text import title_period

TASK_SHEET = "任务分解表"
META_SHEET = "计划信息"
INDICATOR_SHEET = "主要指标"
TARGET_SHEET = "任务目标"
TASK_HEADERS = [
    "序号",
    "上级序号",
    "重点任务",
    "具体任务",
    "任务描述",
    "牵头单位",
    "配合单位",
    "落实单位",
    "单位",
    "角色",
    "完成时限",
    "周期",
    "目标",
    "原文行号",
]
META_KEYS = {"标题": "title", "文号": "doc_no", "发文机关": "issuer", "印发日期": "issued_on"}
INDICATOR_HEADERS = ["指标名称", "目标值", "单位", "比较", "截止日期", "周期类型", "原文"]
TARGET_HEADERS = [
    "重点任务",
    "上级序号",
    "序号",
    "目标原文",
    "目标值",
    "单位",
    "比较",
    "截止日期",
    "周期类型",
]
_RECURRENCE_LABEL = {"annual": "每年", "quarterly": "每季度", "monthly": "每月"}
_CADENCE_LABEL = {
    "once": "一次性",
    "annual": "每年",
    "quarterly": "每季度",
    "monthly": "每月",
    "cumulative": "累计",
}
_CADENCE_VALUE = {v: k for k, v in _CADENCE_LABEL.items()}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(value: object) -> object:
    """Keep a spreadsheet from running text as a formula (CSV/formula injection), and drop what XML
    cannot carry (U+0001, U+FFFE; a vertical tab becomes a newline) from text stored before."""
    if isinstance(value, str):
        value = for_xml(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def unescape_cell(value: object) -> object:
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r'":
        return value[1:]
    return value


def _write(ws: Worksheet, rows: Sequence[Sequence[object]]) -> None:
    for row in rows:
        ws.append([escape_cell(v) for v in row])


def _join(names: list[str]) -> str:
    return "、".join(names)


def export_xlsx(doc: PlanDoc) -> bytes:
    wb = Workbook()
    ws = cast(Worksheet, wb.active)
    ws.title = TASK_SHEET
    rows: list[list[object]] = [list(TASK_HEADERS)]
    target_rows: list[list[object]] = [list(TARGET_HEADERS)]
    for section in doc.sections:
        label = format_section_label(section)
        if not section.tasks:
            rows.append(["", "", label, *[""] * (len(TASK_HEADERS) - 3)])
        for task, parent in _flatten(section.tasks):
            units = [
                *[(u, "lead") for u in task.lead_units],
                *[(u, "co") for u in task.co_units],
                *[(u, "implementing") for u in task.implementing_units],
            ] or [("", "")]
            goals = "\n".join(t.text for t in task.targets)
            for unit, role in units:
                rows.append(
                    [
                        task.code,
                        parent,
                        label,
                        task.title,
                        task.description,
                        _join(task.lead_units),
                        _join(task.co_units),
                        _join(task.implementing_units),
                        unit,
                        ROLE_LABELS.get(role, ""),
                        task.due,
                        _RECURRENCE_LABEL.get(task.recurrence or "", ""),
                        goals,
                        task.source_line,
                    ]
                )
            for target in task.targets:
                target_rows.append(
                    [
                        label,
                        parent,
                        task.code,
                        target.text,
                        target.value,
                        target.unit,
                        target.comparator,
                        target.due,
                        _CADENCE_LABEL[target.cadence],
                    ]
                )
    _write(ws, rows)
    meta = wb.create_sheet(META_SHEET)
    plan = doc.plan
    _write(
        meta,
        [
            ["项目", "内容"],
            ["标题", plan.title],
            ["文号", plan.doc_no or ""],
            ["发文机关", plan.issuer or ""],
            ["印发日期", plan.issued_on],
            ["起始日期", plan.period.start if plan.period else None],
            ["截止日期", plan.period.end if plan.period else None],
        ],
    )
    _write(
        wb.create_sheet(INDICATOR_SHEET),
        [
            list(INDICATOR_HEADERS),
            *[
                [i.name, i.target, i.unit, i.comparator, i.due, _CADENCE_LABEL[i.cadence], i.source_text]
                for i in doc.indicators
            ],
        ],
    )
    _write(wb.create_sheet(TARGET_SHEET), target_rows)
    for sheet in wb.worksheets:
        for column in sheet.iter_cols(min_row=1, max_row=sheet.max_row):
            for cell in column:
                if isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _flatten(tasks: list[TaskDoc], parent: str = "") -> list[tuple[TaskDoc, str]]:
    out: list[tuple[TaskDoc, str]] = []
    for t in tasks:
        out.append((t, parent))
        out.extend(_flatten(t.subtasks, t.code))
    return out


# ---------------------------------------------------------------- import


def _cells(ws: Worksheet, budget: CellBudget) -> list[list[Any]]:
    rows = budget.rows(str(ws.title), ws.iter_rows(values_only=True))
    return [[unescape_cell(v) for v in row] for row in rows]


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        d, _ = parse_due_cell(value)
        return d
    return None


def _as_float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(cast(Any, value))
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header_row(rows: list[list[Any]]) -> int:
    """The first row naming a task column; offices often put a title block above the table."""
    for i, row in enumerate(rows[:20]):
        names = {_text(c).replace(" ", "") for c in row}
        if names & {"具体任务", "重点任务", "任务", "工作任务", "改革举措", "主要任务"}:
            return i
    return 0


def _read_meta(ws: Worksheet | None, budget: CellBudget) -> PlanMeta:
    meta = PlanMeta()
    if ws is None:
        return meta
    values = {_text(r[0]): r[1] for r in _cells(ws, budget) if len(r) >= 2 and r[0]}
    meta.title = _text(values.get("标题"))
    meta.doc_no = _text(values.get("文号")) or None
    meta.issuer = _text(values.get("发文机关")) or None
    meta.issued_on = _as_date(values.get("印发日期"))
    start, end = _as_date(values.get("起始日期")), _as_date(values.get("截止日期"))
    if start is not None and end is not None:
        meta.period = Period(start=start, end=end)
    return meta


def _comparator(value: object) -> str:
    # Offices type symbols or words (不低于, 左右) in the comparator column.
    return comparators.parse(_text(value))


def _read_indicators(ws: Worksheet | None, budget: CellBudget) -> list[IndicatorDoc]:
    if ws is None:
        return []
    out: list[IndicatorDoc] = []
    for row in _cells(ws, budget)[1:]:
        row = [*row, *[None] * 7][:7]
        if not _text(row[0]):
            continue
        out.append(
            IndicatorDoc.model_validate(
                {
                    "name": _text(row[0]),
                    "target": _as_float(row[1]),
                    "unit": _text(row[2]),
                    "comparator": _comparator(row[3]),
                    "due": _as_date(row[4]),
                    "cadence": _CADENCE_VALUE.get(_text(row[5]), _text(row[5]) or "once"),
                    "source_text": _text(row[6]),
                }
            )
        )
    return out


def _read_targets(
    ws: Worksheet | None, budget: CellBudget
) -> dict[tuple[str, str, str], list[TargetDoc]] | None:
    if ws is None:
        return None
    out: dict[tuple[str, str, str], list[TargetDoc]] = {}
    for row in _cells(ws, budget)[1:]:
        row = [*row, *[None] * 9][:9]
        if not _text(row[3]):
            continue
        key = (_text(row[0]), _text(row[1]), _text(row[2]))
        out.setdefault(key, []).append(
            TargetDoc.model_validate(
                {
                    "text": _text(row[3]),
                    "value": _as_float(row[4]),
                    "unit": _text(row[5]),
                    "comparator": _comparator(row[6]),
                    "due": _as_date(row[7]),
                    "cadence": _CADENCE_VALUE.get(_text(row[8]), _text(row[8]) or "once"),
                }
            )
        )
    return out


def parse_xlsx(data: bytes) -> ImportResult:
    # Limits before and while reading (plandoc/limits.py): the zip's directory first, then rows
    # streamed read-only and counted, so an oversized workbook is refused without being loaded.
    check_archive(data)
    check_sheets(data)
    wb = load_workbook(io.BytesIO(data), data_only=True, read_only=True)
    try:
        return _parse_workbook(wb, CellBudget())
    finally:
        wb.close()


def _parse_workbook(wb: Any, budget: CellBudget) -> ImportResult:
    warnings: list[ImportWarning] = []
    ws = cast(Worksheet, wb[TASK_SHEET] if TASK_SHEET in wb.sheetnames else wb.worksheets[0])
    meta = _read_meta(wb[META_SHEET] if META_SHEET in wb.sheetnames else None, budget)
    if not meta.title:
        meta.title = _text(ws.title) if ws.title != TASK_SHEET else ""
    rows = _cells(ws, budget)
    header_at = _header_row(rows)
    headers = [_text(c) for c in rows[header_at]] if rows else []
    if META_SHEET not in wb.sheetnames:
        # 某县2025年重点工作任务分解表 in a merged row above the header names the plan (and its year),
        # not the sheet's tab (Sheet1).
        above = [t for r in rows[:header_at] if len(t := [_text(c) for c in r if _text(c)]) == 1]
        if above:
            meta.title = above[0][0]
        meta.period = meta.period or title_period(meta.title)
    parsed: list[Row] = []
    for offset, cells in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(_text(c) for c in cells):
            continue
        parsed.append(row_from_cells(headers, list(cells), line=offset))
    ours = TARGET_SHEET in wb.sheetnames
    if "单位" in headers and "角色" in headers:
        # One row per unit with its role: the joined list columns are only for reading.
        for row in parsed:
            row.lead = row.co = row.implementing = ""
    # Merged cells read as empty below their first row: carry the group label down.
    last_section = ""
    for row in parsed:
        if row.section:
            last_section = row.section
        else:
            row.section = last_section
    if not any(h for h in headers):
        warnings.append(note("sheet.no_header", "未找到表头行（应含“具体任务”或“重点任务”列）", line=None))
    sections: list[SectionDoc] = build_sections(
        parsed,
        issued_on=meta.issued_on,
        # Our own export writes every due date; an empty cell there means "no deadline".
        default_due=meta.period.end if meta.period and not ours else None,
        warnings=warnings,
        structured_targets=_read_targets(wb[TARGET_SHEET] if ours else None, budget),
        base_year=meta.period.start.year
        if meta.period and meta.period.start.year == meta.period.end.year
        else (meta.issued_on.year if meta.issued_on else None),
    )
    indicators = _read_indicators(wb[INDICATOR_SHEET] if INDICATOR_SHEET in wb.sheetnames else None, budget)
    warnings.sort(key=lambda w: w.line or 0)
    return ImportResult(
        document=PlanDoc(plan=meta, indicators=indicators, sections=sections), warnings=warnings
    )
