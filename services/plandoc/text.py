"""Rule-based reader for plan documents as people write them (行动计划, 实施意见, 工作方案).

The reader is deterministic and never guesses silently: whatever it cannot place becomes an
ImportWarning. Structure it understands:

- header: title, 文号, issuing office (the signature line before the date), issue date;
- numbering 一、 / （一） / 1. / （1）; which level holds the tasks is decided per part (一、…),
  so documents that number tasks straight through across sections read the same as the seed;
- a flat 一、…三十、 list whose items carry their own unit parenthesis;
- unnumbered paragraphs holding several tasks, each closed by its own unit parenthesis (国办发〔2018〕128号);
- clauses that carry to later tasks (下同, 以下均需…落实, 不再列出);
- the 目标 part(s) → indicators;
- a table flattened one cell per line (序号 / 改革举措 / … header lines, then one line per cell) and
  pipe-separated rows (what the .docx reader produces for Word tables);
- numbering that starts again in every section (（一）1．2．（二）1．2．): tasks are then named by their
  section path (一.1, 二.1), codes unique in the document stay as written;
- a （一） heading that is the task itself, its unit clause on the line(s) below or on the heading,
  the lines under it its description;
- in a 任务分解表, merged cells (a 任务名称 or unit printed once for several rows, a task over several
  任务内容 rows): each cell is placed by what it looks like (date / units / text) and a merged cell
  carries down; a lead-or-co choice it cannot make from the cells is reported (table.cell_merged);
  a table that is not a task list (an indicator grid with its own 序号) is reported (table.not_tasks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from .dates import find_deadlines, find_recurrence
from .interchange import (
    ImportResult,
    ImportWarning,
    IndicatorDoc,
    Period,
    PlanDoc,
    PlanMeta,
    SectionDoc,
    TaskDoc,
)
from .notes import ambiguous_deadline, check_task_units, note, unplaced, unquantified_goal
from .quantities import indicators_in, targets_in, unquantified_goals
from .tables import (
    Aligned,
    Row,
    align_row,
    build_sections,
    cell_kind,
    header_field,
    is_task_table,
    row_from_cells,
)
from .units import Attribution, labelled_line, paren_spans, parse_attribution

_CN_NUM = "一二三四五六七八九十百零〇"
_L1 = re.compile(rf"^(?P<code>[{_CN_NUM}]{{1,4}})、\s*")
_L2 = re.compile(rf"^[(（]\s*(?P<code>[{_CN_NUM}]{{1,4}})\s*[)）]\s*")
_L3 = re.compile(r"^(?P<code>\d{1,3})(?:[.．](?!\d)|、)\s*")
_L3_BEFORE_DIGIT = re.compile(r"^(?P<code>\d{1,3})[.．](?=\d)")
_L4 = re.compile(r"^(?:[(（]\s*(?P<code>\d{1,3})\s*[)）]|(?P<circled>[①-⑳]))\s*")
_DOC_NO = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[［【(（]\d{4}[〕\]］】)）]\s*\d{1,4}\s*号")
_CITING = re.compile(r"根据|按照|依据|依照|贯彻|落实|转发|废止|参照|对照|执行")
_HEADER_LINES = 10
_DATE_LINE = re.compile(r"^(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日$")
_ISO_DATE = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")
_PUBLICITY = re.compile(r"^[(（](?:此件|本件|本文|注)[^)）]{0,12}[)）]$")
_ATTACHMENT = re.compile(r"^附件\s*\d*\s*[:：]?")
# 2024-2025年, （2019—2021）, 2025年度: the period a plan's title names.
_TITLE_PERIOD = re.compile(
    r"(?<!\d)(?P<a>\d{4})\s*年?\s*[-—–~～至到]\s*(?P<b>\d{4})\s*(?:年|[)）])|(?<!\d)(?P<y>\d{4})\s*年度"
)
# 某市2025年优化营商环境工作要点: one year, not a horizon (到2025年基本建成…).
_TITLE_YEAR = re.compile(r"(?<![\d到至止])(\d{4})\s*年(?![度\d\s]*[-—–~～至到])")
_PREAMBLE_GOAL = re.compile(r"(?:到|至)\s*\d{4}\s*年|^(?:主要|总体|工作|发展)?目标(?:任务)?\s*[:：]")
_YEARS_FROM = re.compile(r"(?P<y>\d{4})年起\s*(?P<n>\d{1,2})\s*年内")
_SENTENCE_END = "。！？!?"
_PUNCT = "，。；：、,.;:！？!?"
_INTEGER_LINE = re.compile(r"^\d{1,4}$")
_MAX_TITLE = 80


@dataclass(slots=True)
class _Line:
    no: int
    text: str
    level: int = 0
    code: str = ""
    body: str = ""
    # Unit parentheses in body: (start, end, attribution).
    atts: list[tuple[int, int, Attribution]] = field(default_factory=list)

    @property
    def unit_line(self) -> bool:
        """The whole line is one unit clause: （责任单位：…） or 责任单位：… on a line of its own."""
        return self.level == 0 and len(self.atts) == 1 and self.atts[0][:2] == (0, len(self.body))


def _classify(no: int, text: str, *, forced: tuple[int, str, int] | None = None) -> _Line:
    line = _Line(no=no, text=text, body=text)
    if forced is not None:
        line.level, line.code, line.body = forced[0], forced[1], text[forced[2] :]
    for level, pattern in ((1, _L1), (2, _L2), (3, _L3), (4, _L4)):
        if forced is not None:
            break
        m = pattern.match(text)
        if m is not None:
            line.level = level
            line.code = m.groupdict().get("code") or m.groupdict().get("circled") or ""
            line.body = text[m.end() :]
            break
    for start, end in paren_spans(line.body):
        att = parse_attribution(line.body[start + 1 : end - 1])
        if att is not None:
            line.atts.append((start, end, att))
    if line.level == 0 and not line.atts and (att := labelled_line(line.body)) is not None:
        line.atts.append((0, len(line.body), att))
    return line


def _first_sentence(text: str) -> tuple[str, str]:
    depth = 0
    quote = False
    for i, ch in enumerate(text):
        if ch in "(（":
            depth += 1
        elif ch in ")）" and depth:
            depth -= 1
        elif ch in "“”":
            quote = ch == "“"
        elif ch in _SENTENCE_END and depth == 0 and not quote:
            return text[:i].strip(), text[i + 1 :].strip()
    return text.strip().rstrip("：:"), ""


def _title_like(text: str) -> bool:
    return 0 < len(text) <= _MAX_TITLE and "。" not in text and not text.endswith(("：", ":", "，"))


def _heading_title(line: _Line) -> str:
    return _first_sentence(line.body)[0].rstrip("：:")


# ---------------------------------------------------------------- header


@dataclass(slots=True)
class _Header:
    meta: PlanMeta
    skip: set[int]


def _date_of(m: re.Match[str]) -> date | None:
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None


def _cited(text: str, start: int) -> bool:
    """A 文号 the text cites: 《…》（国发〔2023〕5号）, 根据…国发〔2023〕5号, 废止…."""
    before = text[:start].rstrip(" （(〈<")
    return before.endswith("》") or bool(_CITING.search(text[:start]))


def _header_doc_no(lines: list[_Line]) -> str | None:
    """The document's own 文号 on a header line (涟政办发〔2024〕12号  签发人：…, or the title's
    closing parenthesis), never one a sentence of the body cites."""
    for ln in lines:
        if "|" in ln.text or "。" in ln.text or len(ln.text) > _MAX_TITLE:
            continue
        for m in _DOC_NO.finditer(ln.text):
            if not _cited(ln.text, m.start()):
                return m.group(0)
    return None


def _read_header(lines: list[_Line], issued_on_hint: date | None) -> _Header:
    meta = PlanMeta()
    skip: set[int] = set()
    pipe: dict[str, str] = {}
    for ln in lines[:12]:
        if "|" in ln.text:
            cells = [c.strip() for c in ln.text.split("|")]
            for label, value in zip(cells, cells[1:], strict=False):
                key = re.sub(r"\s+", "", label)
                if key and value and key not in pipe:
                    pipe[key] = value
    first_l1 = next((i for i, ln in enumerate(lines) if ln.level == 1), len(lines))
    preamble = lines[:first_l1]

    doc_no_line: int | None = None
    if "文号" in pipe and (numbered := _DOC_NO.search(pipe["文号"])):
        meta.doc_no = numbered.group(0)
    for i, ln in enumerate(preamble[:40]):
        if "|" not in ln.text and _DOC_NO.fullmatch(ln.text):
            meta.doc_no = meta.doc_no or ln.text
            doc_no_line = i
            break
    if meta.doc_no is None:
        meta.doc_no = _header_doc_no(preamble[:_HEADER_LINES])

    for i, ln in enumerate(lines):
        m = _DATE_LINE.match(ln.text)
        if m is None:
            continue
        skip.add(ln.no)
        if meta.issued_on is None:
            meta.issued_on = _date_of(m)
            prev = lines[i - 1] if i > 0 else None
            if prev is not None and _title_like(prev.text) and not any(p in prev.text for p in _PUNCT):
                meta.issuer = prev.text
        if i > 0 and not any(p in lines[i - 1].text for p in _PUNCT) and len(lines[i - 1].text) <= 30:
            skip.add(lines[i - 1].no)
    if meta.issuer is None and pipe.get("发布机构"):
        meta.issuer = pipe["发布机构"]
    if meta.issued_on is None:
        for key in ("成文日期", "发文日期", "公开日期", "发布日期"):
            m = _ISO_DATE.match(pipe.get(key, "")) or _DATE_LINE.match(pipe.get(key, ""))
            if m is not None:
                meta.issued_on = _date_of(m)
                break
    if meta.issued_on is None:
        meta.issued_on = issued_on_hint

    for i, ln in enumerate(lines):
        if _PUBLICITY.match(ln.text) or _ATTACHMENT.match(ln.text):
            skip.add(ln.no)
            if i + 1 < first_l1 and not meta.title and _PUBLICITY.match(ln.text):
                candidate = lines[i + 1].text
                if _title_like(candidate) and lines[i + 1].level == 0:
                    meta.title = candidate
    if not meta.title and doc_no_line is not None:
        parts = [ln.text for ln in preamble[:doc_no_line] if "|" not in ln.text and ln.level == 0]
        if parts and all(_title_like(p) for p in parts):
            meta.title = "".join(parts)
    if not meta.title:
        for ln in preamble:
            if "|" not in ln.text and _title_like(ln.text) and not _DOC_NO.fullmatch(ln.text):
                meta.title = ln.text
                break
    meta.title = _plan_title(meta.title)
    meta.period = title_period(meta.title)
    return _Header(meta=meta, skip=skip)


# 某县人民政府办公室关于印发《某县某某实施方案》的通知: the plan is what the notice issues.
_COVER_NOTICE = re.compile(r"^.*?关于(?:印发|转发|下达)《?(?P<plan>.+?)》?的通知$")


def _plan_title(title: str) -> str:
    m = _COVER_NOTICE.match(title)
    if m is None or "《" in m["plan"] or "》" in m["plan"]:
        return title
    return m["plan"]


def title_period(title: str) -> Period | None:
    """The years a title names: （2024-2025年）, （2019—2021）, 2025年度, 2025年…工作要点."""
    m = _TITLE_PERIOD.search(title)
    if m is None:
        years = _TITLE_YEAR.findall(title)
        if len(years) != 1:
            return None
        year = int(years[0])
        return Period(start=date(year, 1, 1), end=date(year, 12, 31)) if 1949 < year < 2200 else None
    first, last = (int(m["a"]), int(m["b"])) if m["a"] else (int(m["y"]), int(m["y"]))
    if not 1949 < first <= last < first + 30:
        return None
    return Period(start=date(first, 1, 1), end=date(last, 12, 31))


# ---------------------------------------------------------------- tables


def _flat_table(
    lines: list[_Line], start: int, warnings: list[ImportWarning], *, part: _Line | None = None
) -> tuple[list[Row], int]:
    """A table flattened one cell per line, beginning with a "序号" line; returns rows and end index.
    Rows before the table's own group rows (一、…（共5项）) belong to the part it stands in."""
    headers = ["序号"]
    i = start + 1
    while i < len(lines) and len(headers) < 12:
        t = lines[i].text
        if lines[i].level == 1 or _INTEGER_LINE.match(t) or len(re.sub(r"\s+", "", t)) > 12:
            break
        headers.append(t)
        i += 1
    fields = [header_field(h) for h in headers]
    if not is_task_table(fields):
        end = _grid_end(lines, i)
        columns = "/".join(_squeeze(h) for h in headers)
        warnings.append(
            note(
                "table.not_tasks",
                f"表格（{columns}）不是任务清单（没有任务和责任单位或时限列），未导入为任务，请人工核对",
                line=lines[start].no,
                text=" | ".join(headers),
            )
        )
        return [], end
    rows: list[Row] = []
    section = ""
    if part is not None and i < len(lines) and lines[i].level != 1:
        section = part.text
        rows.append(Row(line=part.no, section=section))
    above: list[str] = []
    merged: list[tuple[_Line, Aligned]] = []
    while i < len(lines):
        ln = lines[i]
        if _table_ends(ln):
            break
        if ln.level == 1:
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if nxt is not None and nxt.level != 1 and not _INTEGER_LINE.match(nxt.text):
                break  # a heading followed by prose: the table has ended
            section = ln.text
            rows.append(Row(line=ln.no, section=section))
            above = []
            i += 1
            continue
        if not _INTEGER_LINE.match(ln.text):
            warnings.append(unplaced(ln.no, ln.text))
            i += 1
            continue
        block = [ln.text]
        j = i + 1
        while j < len(lines) and len(block) < len(headers):
            nxt = lines[j]
            if nxt.level == 1 or _INTEGER_LINE.match(nxt.text) or _table_ends(nxt):
                break
            block.append(nxt.text)
            j += 1
        cells: list[str] = block
        if len(block) < len(headers):
            aligned = align_row(fields, block, above)
            if aligned is None:
                warnings.append(
                    note(
                        "table.row_incomplete",
                        f"表格第{ln.text}行只有{len(block)}个单元格（表头为{len(headers)}列），请核对",
                        line=ln.no,
                        text=" | ".join(block),
                    )
                )
            else:
                cells = aligned.cells
                if aligned.ambiguous and aligned.carried:
                    merged.append((ln, aligned))
        row = row_from_cells(headers, list(cells), line=ln.no)
        row.section = section
        rows.append(row)
        above = cells
        i = j
        # 序号 and 任务名称 printed once over several 任务内容 rows: the lines before the next 序号
        # are further rows of the same task.
        while (k := _continuation_end(lines, i, len(headers))) > i:
            more = align_row(fields, [ln.text, *(x.text for x in lines[i:k])], above)
            if more is None or "description" not in [fields[c] for c, v in enumerate(more.cells) if v]:
                break
            if more.ambiguous and more.carried:
                merged.append((lines[i], more))
            row = row_from_cells(headers, list(more.cells), line=lines[i].no)
            row.section, row.continued = section, True
            rows.append(row)
            above = more.cells
            i = k
    for ln, aligned in merged:
        names = "、".join(f"“{_squeeze(headers[c])}”" for c in aligned.carried)
        warnings.append(
            note(
                "table.cell_merged",
                f"表格第{ln.text}行少{len(aligned.carried)}个单元格，已按合并单元格沿用上一行的{names}，"
                "请核对该单元格是否本为空白",
                line=ln.no,
                text=" | ".join(aligned.cells),
            )
        )
    return rows, i


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _continuation_end(lines: list[_Line], i: int, width: int) -> int:
    """The lines from i that may be one more row of the task above: they begin with a 任务内容 cell
    and end before the next 序号, heading, table end or the next 任务内容 cell."""
    if i >= len(lines) or cell_kind(lines[i].text) != "long":
        return i
    j = i + 1
    while j < len(lines) and j - i < width - 1:
        ln = lines[j]
        if ln.level == 1 or _INTEGER_LINE.match(ln.text) or _table_ends(ln) or cell_kind(ln.text) == "long":
            break
        j += 1
    return j


def _grid_end(lines: list[_Line], i: int) -> int:
    """Where a table that is not a task list ends: at the next heading or paragraph of prose."""
    while i < len(lines):
        t = lines[i].text
        if lines[i].level in (1, 2) or "。" in t or len(t) > 40 or _table_ends(lines[i]):
            return i
        i += 1
    return i


def _table_ends(ln: _Line) -> bool:
    """The next attachment (附件2) or the next table (序号) ends a table."""
    return bool(_ATTACHMENT.match(ln.text)) or _squeeze(ln.text) == "序号"


def _pipe_cells(text: str) -> list[str]:
    cells = [c.strip() for c in text.strip().strip("|").split("|")]
    return cells


def _is_pipe_header(text: str) -> bool:
    if text.count("|") < 2:
        return False
    fields = {header_field(c) for c in _pipe_cells(text)}
    # 序号 | 重点任务 | 工作措施 | 责任单位 | 完成时限 names its tasks in the 重点任务 column.
    named = "title" in fields or ("section" in fields and "description" in fields)
    return named and bool(fields & {"units_first", "lead", "co", "unit", "code"})


def _pipe_table(lines: list[_Line], start: int, *, part: _Line | None = None) -> tuple[list[Row], int]:
    headers = _pipe_cells(lines[start].text)
    rows: list[Row] = []
    section = ""
    if part is not None:
        # A Word table under 一、重点任务分工: its rows belong to that part until a group row.
        section = part.text
        rows.append(Row(line=part.no, section=section))
    i = start + 1
    while i < len(lines) and "|" in lines[i].text:
        cells = _pipe_cells(lines[i].text)
        distinct = {c for c in cells if c}
        if len(distinct) == 1 and (_L1.match(next(iter(distinct))) or _L2.match(next(iter(distinct)))):
            section = next(iter(distinct))  # a merged full-width row naming the group
            rows.append(Row(line=lines[i].no, section=section))
        else:
            row = row_from_cells(headers, list(cells), line=lines[i].no)
            if row.section:
                section = row.section
            row.section = row.section or section
            rows.append(row)
        i += 1
    return rows, i


# ---------------------------------------------------------------- tasks


@dataclass(slots=True)
class _TaskDraft:
    code: str
    line: int
    texts: list[str] = field(default_factory=list)
    atts: list[Attribution] = field(default_factory=list)
    closed: bool = False
    subtasks: list[_TaskDraft] = field(default_factory=list)
    # The first text is a heading (（一）增加场地设施供给) and the lines under it describe it.
    headed: bool = False

    def add(self, text: str, atts: list[tuple[int, int, Attribution]]) -> None:
        clean = text
        for start, end, _ in reversed(atts):
            clean = clean[:start] + clean[end:]
        clean = " ".join([clean.strip(), *(x for _, _, a in atts for x in a.extra)]).strip()
        if clean:
            self.texts.append(clean)
        self.atts.extend(a for _, _, a in atts)
        if atts:
            self.closed = True


@dataclass(slots=True)
class _Part:
    heading: _Line | None
    lines: list[_Line]

    @property
    def title(self) -> str:
        return _heading_title(self.heading) if self.heading else ""

    def has_atts(self) -> bool:
        return any(ln.atts for ln in self.lines) or bool(self.heading and self.heading.atts)


class _Reader:
    def __init__(self, meta: PlanMeta, warnings: list[ImportWarning]) -> None:
        self.meta = meta
        self.warnings = warnings
        self.carried: list[str] = []
        self.sections: list[tuple[int, SectionDoc]] = []
        self.auto_code = 0

    @property
    def default_due(self) -> date | None:
        return self.meta.period.end if self.meta.period else None

    @property
    def base_year(self) -> int | None:
        """The year of 年内 / 12月31日前: a one-year plan's own year, else the issue year."""
        return _base_year(self.meta)

    # -- tasks

    def finish(self, draft: _TaskDraft, *, sub: bool = False) -> TaskDoc:
        text = "\n".join(draft.texts)
        if draft.headed and draft.texts:
            title, rest = _first_sentence(draft.texts[0])
            description = "\n".join(t for t in [rest, *draft.texts[1:]] if t)
        else:
            title, description = _first_sentence(text)
        if not title:
            title = text[:_MAX_TITLE]
        task = TaskDoc(code=draft.code, title=title, description=description, source_line=draft.line)
        carry_now: list[str] = []
        for att in draft.atts:
            _extend(task.lead_units, att.lead)
            _extend(task.co_units, att.co)
            _extend(task.implementing_units, att.implementing)
            if att.carry_includes_this:
                _extend(carry_now, att.carry)
        if not sub:
            _extend(
                task.implementing_units, [u for u in [*self.carried, *carry_now] if u not in task.lead_units]
            )
            for att in draft.atts:
                _extend(self.carried, att.carry)
        found = find_deadlines(
            text,
            issued_on=self.meta.issued_on,
            period_start=self.meta.period.start if self.meta.period else None,
            base_year=self.base_year,
        )
        for phrase in found.ambiguous:
            self.warnings.append(ambiguous_deadline(draft.line, phrase))
        if found.dates:
            task.due = found.latest()
        elif found.ongoing:
            task.ongoing = True
        else:
            task.due = self.default_due
        task.recurrence = find_recurrence(text)
        task.targets = targets_in(text, default_due=task.due, issued_on=self.meta.issued_on)
        task.subtasks = [self.finish(s, sub=True) for s in draft.subtasks]
        if not sub:
            check_task_units(task, self.warnings)
        return task

    def next_code(self) -> str:
        self.auto_code += 1
        return str(self.auto_code)

    # -- parts

    def read_part(self, part: _Part, *, qualify: str | None) -> None:
        levels = {ln.level for ln in part.lines if ln.level > 1}
        headed = False
        unnumbered_atts = any(ln.atts and ln.level == 0 for ln in part.lines)
        section_level: int | None
        task_level: int | None
        if 3 in levels:
            section_level, task_level = (2 if 2 in levels else None), 3
        elif 2 in levels:
            section_level, task_level = (2, None) if unnumbered_atts else (None, 2)
            if unnumbered_atts and _headings_with_unit_lines(part.lines):
                section_level, task_level, headed = None, 2, True
        else:
            section_level, task_level = None, None
        sub_level = 4 if task_level is not None and 4 in levels else None

        section: SectionDoc | None = None
        section_line = part.heading.no if part.heading else (part.lines[0].no if part.lines else 0)
        open_draft: _TaskDraft | None = None
        started = False

        def ensure_section() -> SectionDoc:
            nonlocal section
            if section is None:
                code = part.heading.code if part.heading else ""
                section = SectionDoc(code=code, title=part.title)
                self.sections.append((section_line, section))
            return section

        def flush() -> None:
            nonlocal open_draft
            if open_draft is not None:
                ensure_section().tasks.append(self.finish(open_draft))
                open_draft = None

        def segments(ln: _Line, text_start: int) -> None:
            nonlocal open_draft, started
            pos = text_start
            for start, end, att in ln.atts:
                if start < text_start:
                    continue
                if open_draft is None or open_draft.closed:
                    flush()
                    open_draft = _TaskDraft(code=self.next_code(), line=ln.no)
                started = True
                open_draft.add(ln.body[pos:end], [(start - pos, end - pos, att)])
                flush()
                pos = end
            rest = ln.body[pos:].strip()
            if rest.strip(_PUNCT + " "):
                if open_draft is None or open_draft.closed:
                    flush()
                    open_draft = _TaskDraft(code=self.next_code(), line=ln.no)
                started = True
                open_draft.add(rest, [])

        previous: _Line | None = None
        for ln in part.lines:
            if ln.level == section_level:
                flush()
                title, rest = _first_sentence(ln.body)
                code = f"{qualify}.{ln.code}" if qualify else ln.code
                section = SectionDoc(code=code, title=title.rstrip("：:"))
                self.sections.append((ln.no, section))
                if ln.atts:
                    segments(ln, len(ln.body) - len(rest))
            elif task_level is not None and ln.level == task_level:
                flush()
                open_draft = _TaskDraft(code=ln.code, line=ln.no, headed=headed)
                open_draft.add(ln.body, ln.atts)
                started = True
                if ln.atts and open_draft.texts and _title_like(open_draft.texts[0]):
                    # （一）推进老旧小区改造（责任单位：县住建局） and its text on the lines below
                    open_draft.headed, open_draft.closed = True, False
            elif (
                open_draft is not None
                and open_draft.headed
                and open_draft.atts
                and ln.atts
                and ln.level == 0
                and not (ln.unit_line and previous is not None and previous.unit_line)
            ):
                flush()  # a paragraph with units of its own under a heading that had its own
                segments(ln, 0)
            elif headed and open_draft is not None and ln.level == 0:
                open_draft.add(ln.text, _shift(ln))  # its unit line, or the text describing it
            elif sub_level is not None and ln.level == sub_level and open_draft is not None:
                sub = _TaskDraft(code=ln.code, line=ln.no)
                sub.add(ln.body, ln.atts)
                open_draft.subtasks.append(sub)
            elif open_draft is not None and not open_draft.closed:
                open_draft.add(ln.text, _shift(ln))
            elif ln.atts:
                segments(ln, 0)
            elif started:
                self.warnings.append(unplaced(ln.no, ln.text))
            previous = ln
        flush()

    def read_flat(self, parts: list[_Part]) -> None:
        section = SectionDoc(code="", title="")
        self.sections.append((parts[0].heading.no if parts[0].heading else 0, section))
        for part in parts:
            assert part.heading is not None
            draft = _TaskDraft(code=part.heading.code, line=part.heading.no)
            draft.add(part.heading.body, part.heading.atts)
            for ln in part.lines:
                if not draft.closed:
                    draft.add(ln.text, _shift(ln))
                else:
                    self.warnings.append(unplaced(ln.no, ln.text))
            section.tasks.append(self.finish(draft))


def _base_year(meta: PlanMeta) -> int | None:
    period = meta.period
    if period is not None and period.start.year == period.end.year:
        return period.start.year
    return meta.issued_on.year if meta.issued_on else None


def _headings_with_unit_lines(lines: list[_Line]) -> bool:
    """（一） headings that are tasks themselves: each unit clause stands on a line of its own under
    a heading (（责任单位：…） on the next line, or after the text), one clause per heading."""
    clauses: int | None = None  # None before the first heading
    previous: _Line | None = None
    unit_lines = False
    headings = 0
    closed = False  # the current bare heading holds one paragraph closed by its units
    paragraphs = False
    for ln in lines:
        if ln.level == 2:
            clauses, closed = len(ln.atts), False
            headings += 1
        elif ln.atts:
            if clauses is None:
                return False
            # 牵头单位：… and 配合单位：… on two lines are one clause
            if ln.unit_line and (not clauses or (previous is not None and previous.unit_line)):
                clauses, unit_lines = 1, True
            elif not clauses:
                # （一）义务教育学校扩容工程 / 新建学校4所…。（县教育局牵头…）: one paragraph with one
                # clause under each heading is the heading's task; several are a section's tasks.
                if closed or len(ln.atts) > 1:
                    return False
                closed = paragraphs = True
        previous = ln
    return unit_lines or (paragraphs and headings >= 2)


def _shift(ln: _Line) -> list[tuple[int, int, Attribution]]:
    """Attribution spans relative to ln.text instead of ln.body."""
    offset = len(ln.text) - len(ln.body)
    return [(s + offset, e + offset, a) for s, e, a in ln.atts]


def _extend(target: list[str], names: list[str]) -> None:
    for name in names:
        if name not in target:
            target.append(name)


def _split_parts(lines: list[_Line]) -> tuple[list[_Line], list[_Part]]:
    preamble: list[_Line] = []
    parts: list[_Part] = []
    for ln in lines:
        if ln.level == 1:
            parts.append(_Part(heading=ln, lines=[]))
        elif parts:
            parts[-1].lines.append(ln)
        else:
            preamble.append(ln)
    return preamble, parts


def _target_texts(parts: list[_Part], task_parts: set[int]) -> tuple[list[tuple[int, str]], set[int]]:
    """(line, text) of the 目标 parts (一、总体目标) and 目标 sub-headings (（二）发展目标) outside
    task parts."""
    texts: list[tuple[int, str]] = []
    used: set[int] = set()
    for idx, part in enumerate(parts):
        if idx in task_parts:
            continue
        if "目标" in part.title:
            texts.extend((ln.no, ln.body) for ln in part.lines)
            used.update(ln.no for ln in part.lines)
            continue
        inside = False
        for ln in part.lines:
            if ln.level == 2:
                inside = "目标" in _heading_title(ln)
                if inside:
                    texts.append((ln.no, _first_sentence(ln.body)[1]))
                    used.add(ln.no)
            elif inside:
                texts.append((ln.no, ln.body))
                used.add(ln.no)
    return [(no, t) for no, t in texts if t], used


def _stray_deadlines(
    parts: list[_Part], skip_parts: set[int], skip_lines: set[int], meta: PlanMeta
) -> list[ImportWarning]:
    """Deadlines in parts that hold no tasks (实施步骤, 工作进度, 保障措施) are reported, not dropped."""
    out: list[ImportWarning] = []
    for idx, part in enumerate(parts):
        if idx in skip_parts:
            continue
        for ln in part.lines:
            if ln.no in skip_lines:
                continue
            found = find_deadlines(ln.body, issued_on=meta.issued_on, period_start=None)
            if found.dates:
                out.append(
                    note(
                        "line.unplaced",
                        "该段含有时限要求，但所在部分不是任务清单，未归入任何任务，请人工核对是否需要单独交办",
                        line=ln.no,
                        text=ln.text,
                    )
                )
    return out


def _qualify_task_codes(sections: list[SectionDoc], warnings: list[ImportWarning]) -> None:
    """Numbering that starts again in every section (（一）1．2．（二）1．2．) leaves bare codes that
    name several tasks; then every task is named by its section path (一.1, 二.1). Codes unique in
    the document stay as written."""
    codes = [t.code for s in sections for t in s.tasks if t.code]
    if len(codes) == len(set(codes)):
        return
    renamed: dict[int | None, list[tuple[str, str]]] = {}
    for section in sections:
        if section.code:
            for task in section.tasks:
                if task.code:
                    old = f"任务{task.code}"
                    task.code = f"{section.code}.{task.code}"
                    renamed.setdefault(task.source_line, []).append((old, f"任务{task.code}"))
    for w in warnings:  # 任务1未写明牵头单位 → 任务二.1未写明牵头单位
        for old, new in renamed.get(w.line, []):
            if w.message.startswith(old) and not w.message[len(old) : len(old) + 1].isdigit():
                w.message = new + w.message[len(old) :]
                break
    seen: set[str] = set()
    for section in sections:
        for task in section.tasks:
            if task.code and task.code in seen:
                warnings.append(
                    note(
                        "task.code_duplicate",
                        f"任务编号“{task.code}”在文件中出现不止一次，无法区分，请在交办前改正编号",
                        line=task.source_line,
                        text=task.title,
                    )
                )
            seen.add(task.code)


# Full-width digits (２０２５年, ８５％) read as the ASCII ones, so dates, 文号 and quantities are the
# same however the document was typed; "１．２万户" is 1.2, "１．加强…" stays item 1.
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_FULLWIDTH_DECIMAL = re.compile(r"(?<=\d)．(?=\d)")


def _half_width(text: str) -> str:
    text = text.translate(_FULLWIDTH_DIGITS)
    if "．" not in text:
        return text
    lead = _L3.match(text) or _L3_BEFORE_DIGIT.match(text)
    start = lead.end() if lead else 0
    return text[:start] + _FULLWIDTH_DECIMAL.sub(".", text[start:])


def parse_text(text: str, *, issued_on_hint: date | None = None) -> ImportResult:
    lines: list[_Line] = []
    last_l3 = 0
    for no, raw in enumerate(text.splitlines(), start=1):
        stripped = _half_width(raw.replace("\u3000", " ").strip())
        if not stripped:
            continue
        ln = _classify(no, stripped)
        if ln.level == 0:
            # "11.121人才梯队项目" is item 11, not the decimal 11.121: trust the running count.
            m = _L3_BEFORE_DIGIT.match(stripped)
            if m is not None and int(m["code"]) == last_l3 + 1:
                ln = _classify(no, stripped, forced=(3, m["code"], m.end()))
        if ln.level == 3 and ln.code.isdigit():
            last_l3 = int(ln.code)
        lines.append(ln)
    header = _read_header(lines, issued_on_hint)
    meta = header.meta
    warnings: list[ImportWarning] = []

    # Tables (flattened or pipe rows) are cut out of the prose first.
    prose: list[_Line] = []
    table_rows: list[Row] = []
    i = 0
    under: _Line | None = None  # the 一、 heading a table stands under (none in an attachment)
    while i < len(lines):
        ln = lines[i]
        if ln.level == 1:
            under = ln
        elif _ATTACHMENT.match(ln.text):
            under = None
        if re.sub(r"\s+", "", ln.text) == "序号" and i + 2 < len(lines):
            rows, i = _flat_table(lines, i, warnings, part=under)
            table_rows.extend(rows)
            continue
        if "|" in ln.text and _is_pipe_header(ln.text):
            rows, i = _pipe_table(lines, i, part=under)
            table_rows.extend(rows)
            continue
        if ln.no not in header.skip:
            prose.append(ln)
        i += 1

    preamble, parts = _split_parts(prose)
    if not parts:
        # No 一、 headings at all: one implicit part; the header lines are not tasks.
        header_texts = {meta.title, meta.doc_no or "", meta.issuer or ""}
        body = [ln for ln in preamble if ln.text not in header_texts and "|" not in ln.text]
        parts = [_Part(heading=None, lines=body)]

    flat = [p for p in parts if p.heading is not None and p.heading.atts]
    flat_mode = len(flat) >= 2
    task_parts = {
        idx
        for idx, p in enumerate(parts)
        if (flat_mode and p in flat) or p.has_atts() or ("任务" in p.title and "目标" not in p.title)
    }

    target_text, target_lines = _target_texts(parts, task_parts)
    if parts[0].heading is not None:
        # 为…制定本方案。到2025年，…达到85%以上: goals stated in the preamble, before any 一、.
        target_text[:0] = [
            (ln.no, ln.body[m.start() :]) for ln in preamble if (m := _PREAMBLE_GOAL.search(ln.body))
        ]
    if meta.period is None:
        for _, t in target_text:
            m = _YEARS_FROM.search(t)
            if m is not None:
                start = int(m["y"])
                meta.period = Period(start=date(start, 1, 1), end=date(start + int(m["n"]) - 1, 12, 31))
                break
    default_due = meta.period.end if meta.period else None
    indicators: list[IndicatorDoc] = []
    goals_seen: set[str] = set()
    for no, t in target_text:
        indicators.extend(indicators_in(t, default_due=default_due, issued_on=meta.issued_on))
        # A goal without a number (科技财政支出逐年增长) becomes no indicator; it is listed, not dropped.
        for goal in unquantified_goals(t):
            if goal not in goals_seen:
                goals_seen.add(goal)
                warnings.append(unquantified_goal(no, goal))

    reader = _Reader(meta, warnings)
    sectioned = [idx for idx in task_parts if any(ln.level == 2 for ln in parts[idx].lines)]
    qualify_codes = len(task_parts) > 1 and bool(sectioned)
    if flat_mode:
        reader.read_flat(flat)
    for idx in sorted(task_parts):
        part = parts[idx]
        if flat_mode and part in flat:
            continue
        qualify = part.heading.code if (qualify_codes and part.heading is not None) else None
        reader.read_part(part, qualify=qualify)

    if parts[0].heading is not None:
        warnings.extend(_stray_deadlines(parts, task_parts, target_lines, meta))
    sections = [s for _, s in sorted(reader.sections, key=lambda x: x[0])]
    if table_rows:
        sections.extend(
            build_sections(
                table_rows,
                issued_on=meta.issued_on,
                default_due=default_due,
                warnings=warnings,
                base_year=_base_year(meta),
            )
        )
    sections = [s for s in sections if s.tasks or s.title]
    _qualify_task_codes(sections, warnings)
    warnings.sort(key=lambda w: w.line or 0)
    return ImportResult(
        document=PlanDoc(plan=meta, indicators=indicators, sections=sections), warnings=warnings
    )
