"""Spreadsheet cells that stay text: a leading = + - @ (or tab/CR) would make Excel run a formula."""

from __future__ import annotations

from typing import Any

_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value
