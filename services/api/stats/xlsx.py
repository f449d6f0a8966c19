"""Spreadsheets as an office prints them: cells that stay text (a leading = + - @, tab or CR would
make Excel run a formula), Chinese dates, A4 pages numbered 「第 X 页 共 Y 页」."""

from __future__ import annotations

from typing import Any

from duban.text import for_xml

_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = for_xml(value)  # stored text may hold what XML cannot (U+0001, U+000B, U+FFFE)
    return "'" + value if value.startswith(_FORMULA_LEADS) else value


# 2025年12月31日, in the cell's format: the value stays a real date Excel can sort and filter.
CHINESE_DATE = 'yyyy"年"m"月"d"日"'


def print_setup(ws: Any, *, title_rows: str | None = None) -> None:
    """A4, fit to the page width, the header row repeated on every page, page numbers in the footer."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页 共 &N 页"
    if title_rows:
        ws.print_title_rows = title_rows
