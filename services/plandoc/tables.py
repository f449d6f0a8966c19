"""Tabular plans (任务分解表, flattened tables, Word tables): rows → sections and tasks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations
from math import comb

from .dates import find_recurrence, parse_due_cell
from .interchange import ImportWarning, Recurrence, SectionDoc, TargetDoc, TaskDoc
from .notes import check_task_units, note
from .quantities import targets_in
from .units import is_territorial, looks_like_units, marked_lead, split_units

# Header text (spaces removed) → row field.
HEADER_FIELDS: dict[str, str] = {
    "序号": "code",
    "编号": "code",
    "上级序号": "parent",
    "重点任务": "section",
    "任务类别": "section",
    "改革举措": "title",
    "具体任务": "title",
    "工作任务": "title",
    "任务名称": "title",
    "主要任务": "title",
    "工作事项": "title",
    "任务": "title",
    "具体工作": "title",
    "重点工作": "title",
    "主要工作": "title",
    "工作事项名称": "title",
    "项目名称": "title",
    "事项名称": "title",
    "任务描述": "description",
    "主要内容": "description",
    "具体内容": "description",
    "工作内容": "description",
    "任务内容": "description",
    "具体措施": "description",
    "工作措施": "description",
    "主要措施": "description",
    "工作举措": "description",
    "具体举措": "description",
    "建设内容": "description",
    "实施内容": "description",
    "工作要求": "description",
    "责任单位": "units_first",
    "责任部门": "units_first",
    "指导部门": "units_first",
    "负责单位": "units_first",
    "牵头单位": "lead",
    "牵头部门": "lead",
    "推进单位": "lead",
    "配合单位": "co",
    "配合部门": "co",
    "协办单位": "co",
    "协办部门": "co",
    "协同单位": "co",
    "协同部门": "co",
    "支撑单位": "co",
    "支撑部门": "co",
    "参与单位": "co",
    "落实单位": "implementing",
    "单位": "unit",
    "单位名称": "unit",
    "角色": "role",
    "单位类别": "role",
    "单位角色": "role",
    "完成时限": "due",
    "完成时间": "due",
    "时间节点": "due",
    "完成时间节点": "due",
    "时间安排": "due",
    "时限": "due",
    "完成期限": "due",
    "时限要求": "due",
    "完成时限要求": "due",
    "进度安排": "due",
    "周期": "recurrence",
    "目标": "targets",
    "目标任务": "targets",
    "原文行号": "source_line",
}
_SECTION_LABEL = re.compile(
    r"^\s*(?:[(（](?P<c1>[一二三四五六七八九十百零〇\d.]{1,12})[)）]|(?P<c2>[一二三四五六七八九十百零〇]+)、)\s*(?P<title>.*)$"
)
_DECLARED = re.compile(r"[(（]共(?P<n>\d+)项[)）]\s*$")
_RECURRENCE_LABELS: dict[str, Recurrence] = {
    "每年": "annual",
    "annual": "annual",
    "每季度": "quarterly",
    "quarterly": "quarterly",
    "每月": "monthly",
    "monthly": "monthly",
}
_CADENCE_CELL = re.compile(r"(每年|每季度?|每个季度|按季度?|每月|每个月|按月)(?:一次|开展|报送|调度)?")
_CADENCE_WORDS = {
    "每年": "每年",
    "每季": "每季度",
    "每季度": "每季度",
    "每个季度": "每季度",
    "按季": "每季度",
    "按季度": "每季度",
    "每月": "每月",
    "每个月": "每月",
    "按月": "每月",
}
ROLE_LABELS = {"lead": "牵头", "co": "配合", "implementing": "落实"}


def header_field(text: str) -> str | None:
    return HEADER_FIELDS.get(re.sub(r"\s+", "", text))


_UNIT_FIELDS = frozenset({"units_first", "lead", "co", "implementing", "unit"})
BLANK_CELLS = frozenset({"/", "／", "-", "—", "——", "－", "无", "暂无", "\\"})


def is_task_table(fields: list[str | None]) -> bool:
    """Columns of a task list: what is to be done, and who or by when. An indicator grid
    (序号/指标名称/单位/目标值) has neither a task column nor a unit column."""
    present = set(fields)
    return bool(present & {"title", "description"}) and bool(present & (_UNIT_FIELDS | {"due"}))


# What a 时间节点 cell holds besides its dates: 2024年6月底前, 长期坚持, 2024—2025年, 每季度.
_DATE_WORDS = re.compile(
    r"\d{4}\s*年度?|\d{4}[./-]|\d{1,2}\s*月(?:份)?|\d{1,2}\s*日|上半年|下半年|年底|年末|年内|年中|底|末|前|之前|以前|"
    r"长期坚持|长期|持续推进|持续|常态化|每年|每季度|每月|按季度|按月|完成|[-—–~～至到、，,及和\s./]"
)


def cell_kind(text: str) -> str:
    """date / units / long / short: what a table cell looks like, to place the cells of a row
    that lost some to merged cells."""
    if text in BLANK_CELLS:
        return "blank"
    if len(text) <= 30 and re.search(r"\d|长期|持续|常态|每", text) and len(_DATE_WORDS.sub("", text)) <= 1:
        return "date"
    if looks_like_units(text):
        return "units"
    if len(text) > 25 or any(c in text for c in "。；;"):
        return "long"
    return "short"


def _fit(kind: str, column: str | None) -> int | None:
    """How well a cell of this kind sits in this column; None: it cannot."""
    if kind == "blank":
        return None if column in ("title", "description") else 2
    if column == "due":
        return 3 if kind == "date" else None
    if column in _UNIT_FIELDS:
        return 3 if kind == "units" else None
    if kind == "date":
        return 1 if column is None else None
    if column == "title":
        return {"short": 2, "long": 0, "units": 1}[kind]
    if column == "description":
        return {"short": 2, "long": 3, "units": 1}[kind]
    if column == "section":
        return 2 if kind == "short" else None
    return 1


@dataclass(slots=True)
class Aligned:
    cells: list[str]
    carried: list[int]  # columns filled from the row above (a merged cell)
    ambiguous: bool  # another placement fitted as well


def align_row(fields: list[str | None], block: list[str], above: list[str]) -> Aligned | None:
    """Place the cells of a row that has fewer cells than the table has columns: a merged cell
    (a unit printed once for several rows, a 任务名称 over several rows) is printed only in its
    first row. Column 0 (序号) is the block's first line. Each cell goes to a column its kind fits,
    in order; a skipped column takes the value of the row above, if it had one. When two placements
    fit equally, the merged cells are taken to be the leftmost (grouping columns come first) and the
    row is reported ambiguous. None when no placement fits."""
    n, k = len(fields), len(block)
    if not 2 <= k < n or comb(n - 1, k - 1) > 5000:
        return None
    kinds = [cell_kind(c) for c in block[1:]]
    columns = range(1, n)
    best: tuple[int, tuple[int, ...]] | None = None
    ties = 0
    for combo in combinations(columns, k - 1):
        score = 0
        for kind, col in zip(kinds, combo, strict=True):
            f = _fit(kind, fields[col])
            if f is None:
                break
            score += f
        else:
            for col in set(columns) - set(combo):
                if fields[col] == "description":
                    score -= 2
                elif col < len(above) and above[col]:
                    score += 1
            if best is None or score > best[0]:
                best, ties = (score, combo), 0
            elif score == best[0]:
                best, ties = (score, combo), ties + 1
    if best is None:
        return None
    cells = [""] * n
    cells[0] = block[0]
    for cell, col in zip(block[1:], best[1], strict=True):
        cells[col] = cell
    carried = [c for c in columns if c not in best[1] and c < len(above) and above[c]]
    for col in carried:
        cells[col] = above[col]
    return Aligned(cells=cells, carried=carried, ambiguous=ties > 0)


@dataclass(slots=True)
class Row:
    line: int | None = None
    section: str = ""
    code: str = ""
    parent: str = ""
    title: str = ""
    description: str = ""
    units_first: str = ""
    lead: str = ""
    co: str = ""
    implementing: str = ""
    unit: str = ""
    role: str = ""
    due: date | str | None = None
    recurrence: str = ""
    targets: str = ""
    source_line: int | None = None
    has_source_column: bool = False
    extras: list[tuple[str, str]] = field(default_factory=list)
    # One more 任务内容 row of the task above (its 序号 and 任务名称 were merged cells).
    continued: bool = False


def row_from_cells(headers: list[str], cells: list[object], *, line: int | None) -> Row:
    row = Row(line=line)
    fields = [header_field(h) for h in headers]
    # 序号 | 重点任务 | 工作措施 | 责任单位: without a task-name column, 重点任务 names each row's task.
    promote = "section" in fields and "title" not in fields
    for header, cell in zip(headers, cells, strict=False):
        key = header_field(header)
        if promote and key == "section":
            key = "title"
        if isinstance(cell, datetime):
            cell = cell.date()
        if key == "due" and isinstance(cell, date):
            row.due = cell
            continue
        if key == "source_line":
            row.has_source_column = True
            try:
                row.source_line = int(str(cell)) if cell not in (None, "") else None
            except ValueError:
                row.source_line = None
            continue
        value = "" if cell is None else str(cell).strip()
        if isinstance(cell, float) and cell.is_integer():
            value = str(int(cell))
        if key in _UNIT_FIELDS | {"due"} and value in BLANK_CELLS:
            value = ""  # “/”, “—”, “无”: printed to say the cell is empty
        if key is None:
            if value:
                row.extras.append((re.sub(r"\s+", "", header), value))
        elif key == "due":
            row.due = value or None
        else:
            setattr(row, key, value)
    return row


def parse_section_label(label: str) -> tuple[str, str, int | None]:
    """ "（一）实施…" / "一、知识产权保护方面（共5项）" → (code, title, declared task count)."""
    text = label.strip()
    declared = None
    m = _DECLARED.search(text)
    if m is not None:
        declared = int(m.group("n"))
        text = text[: m.start()].rstrip()
    m = _SECTION_LABEL.match(text)
    if m is None:
        return "", text, declared
    return (m.group("c1") or m.group("c2") or ""), m.group("title").strip(), declared


def format_section_label(section: SectionDoc) -> str:
    return f"（{section.code}）{section.title}" if section.code else section.title


@dataclass(slots=True)
class _Building:
    section: SectionDoc
    declared: int | None
    line: int | None


def build_sections(
    rows: list[Row],
    *,
    issued_on: date | None,
    default_due: date | None,
    warnings: list[ImportWarning],
    structured_targets: dict[tuple[str, str, str], list[TargetDoc]] | None = None,
    base_year: int | None = None,
) -> list[SectionDoc]:
    sections: list[_Building] = []
    current_label: str | None = None
    task: TaskDoc | None = None
    task_key: tuple[str, str, str] | None = None
    parents: dict[tuple[int, str], TaskDoc] = {}
    due_seen: dict[int, bool] = {}

    for row in rows:
        if not sections or (row.section and row.section != current_label):
            code, title, declared = parse_section_label(row.section)
            sections.append(_Building(SectionDoc(code=code, title=title), declared, row.line))
            current_label = row.section
            task, task_key = None, None
        building = sections[-1]
        if not (
            row.code or row.title or row.unit or row.lead or row.co or row.units_first or row.implementing
        ):
            continue
        key = (row.parent, row.code, row.title)
        continues = task is not None and (key == task_key or (not row.code and not row.title))
        if not continues:
            task = TaskDoc(
                code=row.code,
                title=row.title or row.description[:40],
                description=row.description,
                source_line=row.source_line if row.has_source_column else row.line,
            )
            if row.extras:
                extra = "\n".join(f"{k}：{v}" for k, v in row.extras)
                task.description = f"{task.description}\n{extra}".strip()
            task_key = key
            due_seen[id(task)] = False
            parent = parents.get((len(sections), row.parent)) if row.parent else None
            if parent is not None:
                parent.subtasks.append(task)
            else:
                building.section.tasks.append(task)
                parents[(len(sections), row.code)] = task
        assert task is not None
        _add_units(task, row)
        if row.continued and continues and row.description and row.description not in task.description:
            task.description = f"{task.description}\n{row.description}".strip()
        if isinstance(row.due, str) and (cadence := _CADENCE_CELL.fullmatch(re.sub(r"\s+", "", row.due))):
            # 每季度 / 每月 in the 完成时限 column: how often, not by when (the plan's end applies).
            row.recurrence = row.recurrence or _CADENCE_WORDS[cadence.group(1)]
            row.due = None
        if row.due is not None and (not due_seen[id(task)] or row.continued):
            first_due = not due_seen[id(task)]
            due_seen[id(task)] = True
            if isinstance(row.due, date):
                due: date | None = row.due
                understood = True
            else:
                due, understood = parse_due_cell(row.due, issued_on=issued_on, base_year=base_year)
            if first_due:
                task.due = due
                task.ongoing = due is None and understood
            elif due is not None and task.due is not None:
                task.due = max(task.due, due)  # the task is done when its last row is
            if not understood:
                warnings.append(
                    note(
                        "deadline.ambiguous",
                        f"完成时限“{row.due}”无法换算为具体日期，请人工确定",
                        line=row.line,
                        text=str(row.due),
                    )
                )
        if row.recurrence and task.recurrence is None:
            task.recurrence = _RECURRENCE_LABELS.get(row.recurrence)
        if row.targets and not task.targets and structured_targets is None:
            task.targets = targets_in(row.targets, default_due=task.due or default_due, issued_on=issued_on)

    out: list[SectionDoc] = []
    for building in sections:
        for t in _walk(building.section.tasks):
            if not due_seen.get(id(t)) and t.due is None:
                t.due = default_due
            if t.recurrence is None and structured_targets is None:
                t.recurrence = find_recurrence(f"{t.title}{t.description}")
            if not t.targets and structured_targets is None:
                # No 目标 column (or an empty cell): the goals the task's own words state (改造10个).
                t.targets = targets_in(
                    f"{t.title}。{t.description}", default_due=t.due or default_due, issued_on=issued_on
                )
        if structured_targets is not None:
            label = format_section_label(building.section)
            for t, parent_code in _walk_with_parent(building.section.tasks):
                t.targets = list(structured_targets.get((label, parent_code, t.code), []))
        for t in building.section.tasks:
            check_task_units(t, warnings)
        count = len(building.section.tasks)
        if building.declared is not None and building.declared != count:
            warnings.append(
                note(
                    "section.count_mismatch",
                    f"“{building.section.title}”写明共{building.declared}项，实际读取到{count}项，请核对原文是否缺行",
                    line=building.line,
                    text=building.section.title,
                )
            )
        if building.section.tasks or building.declared is not None or building.section.title:
            out.append(building.section)
    return out


def _walk(tasks: list[TaskDoc]) -> list[TaskDoc]:
    out: list[TaskDoc] = []
    for t in tasks:
        out.append(t)
        out.extend(_walk(t.subtasks))
    return out


def _walk_with_parent(tasks: list[TaskDoc], parent: str = "") -> list[tuple[TaskDoc, str]]:
    out: list[tuple[TaskDoc, str]] = []
    for t in tasks:
        out.append((t, parent))
        out.extend(_walk_with_parent(t.subtasks, t.code))
    return out


def _append(target: list[str], names: list[str]) -> None:
    for name in names:
        if name not in target:
            target.append(name)


def _add_units(task: TaskDoc, row: Row) -> None:
    _append(task.lead_units, split_units(row.lead))
    first = split_units(row.units_first)
    marked = marked_lead(first)
    if marked is not None:  # 区相关行政执法部门、区城管局（牵头）
        _append(task.lead_units, marked[0])
        first = marked[1]
    for name in first:
        if not task.lead_units:
            task.lead_units.append(name)
        elif name not in task.lead_units:
            _append(task.implementing_units if is_territorial(name) else task.co_units, [name])
    for name in split_units(row.co):
        _append(task.implementing_units if is_territorial(name) else task.co_units, [name])
    _append(task.implementing_units, split_units(row.implementing))
    if row.unit:
        role = row.role.strip()
        if role in ("牵头", "lead", "牵头单位"):
            _append(task.lead_units, [row.unit])
        elif role in ("配合", "co", "配合单位"):
            _append(task.co_units, [row.unit])
        elif role in ("落实", "implementing", "落实单位", "实施", "属地"):
            _append(task.implementing_units, [row.unit])
        elif not task.lead_units:
            task.lead_units.append(row.unit)
        elif row.unit not in task.all_units():
            _append(task.implementing_units if is_territorial(row.unit) else task.co_units, [row.unit])
