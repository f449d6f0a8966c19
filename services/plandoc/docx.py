"""Word documents: paragraphs and tables, in body order, normalised to lines for the text reader.

Tables become one line per row with cells joined by " | " (a breakdown table's header row — 序号 /
具体任务 / 牵头单位 … — is then read as a table by the text reader; other tables are plain lines).
Word's automatic list numbering is not part of the paragraph text and is not recovered.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from .interchange import ImportResult
from .limits import MAX_LINES, CellBudget, DocumentTooLarge, check_archive
from .text import parse_text


def _cell_text(text: str) -> str:
    return " ".join(text.split()).replace("|", "｜")


def _table_lines(table: Table, budget: CellBudget) -> Iterator[str]:
    for row in budget.rows("表格", ([cell.text for cell in row.cells] for row in table.rows)):
        cells = [_cell_text(text) for text in row]
        if any(cells):
            yield " | ".join(cells)


def docx_lines(data: bytes) -> list[str]:
    # The zip's directory is checked before python-docx inflates its parts (plandoc/limits.py).
    check_archive(data)
    document = Document(io.BytesIO(data))
    budget = CellBudget(max_rows=MAX_LINES)
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.extend(block.text.splitlines() or [""])
        elif isinstance(block, Table):
            lines.extend(_table_lines(block, budget))
        if len(lines) > MAX_LINES:
            raise DocumentTooLarge(f"文档超过 {MAX_LINES} 段，请拆分后再导入", limit=MAX_LINES)
    return lines


def parse_docx(data: bytes) -> ImportResult:
    return parse_text("\n".join(docx_lines(data)))
