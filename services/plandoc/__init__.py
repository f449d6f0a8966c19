"""Database-free plan reader: text, .docx, .pdf, .xlsx and JSON into the plan interchange format."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import PurePath
from typing import Any

from .docx import parse_docx
from .interchange import ImportResult, ImportWarning, PlanDoc
from .pdf import parse_pdf
from .text import parse_text
from .xlsx import export_xlsx, parse_xlsx

FORMATS = ("auto", "text", "docx", "pdf", "xlsx", "json")
_EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".docx": "docx",
    ".pdf": "pdf",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
}


class UnsupportedFormat(ValueError):
    """The bytes are not a format the reader knows (or not the one asked for)."""


def detect_format(data: bytes | str, filename: str | None = None) -> str:
    if isinstance(data, str):
        return "json" if data.lstrip().startswith("{") else "text"
    if filename:
        by_name = _EXTENSIONS.get(PurePath(filename).suffix.lower())
        if by_name is not None:
            return by_name
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise UnsupportedFormat("damaged zip archive") from exc
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise UnsupportedFormat("zip archive is neither .docx nor .xlsx")
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "json"
    return "text"


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnsupportedFormat("text is neither UTF-8 nor GB18030")


def _parse_json(data: bytes | str) -> ImportResult:
    raw: Any = json.loads(data if isinstance(data, str) else decode_text(data))
    if isinstance(raw, dict) and "document" in raw:
        return ImportResult.model_validate(raw)
    return ImportResult(document=PlanDoc.model_validate(raw))


def parse(data: bytes | str, *, format: str = "auto", filename: str | None = None) -> ImportResult:
    """Read a plan from text, .docx, .pdf, .xlsx or interchange JSON."""
    if format not in FORMATS:
        raise UnsupportedFormat(f"unknown format {format!r}")
    kind = detect_format(data, filename) if format == "auto" else format
    if kind == "json":
        return _parse_json(data)
    if kind == "text":
        return parse_text(data if isinstance(data, str) else decode_text(data))
    if isinstance(data, str):
        raise UnsupportedFormat(f"{kind} needs bytes, not text")
    if kind == "docx":
        return parse_docx(data)
    if kind == "pdf":
        return parse_pdf(data)
    return parse_xlsx(data)


def to_json(result: ImportResult) -> dict[str, Any]:
    return result.model_dump(mode="json")


__all__ = [
    "ImportResult",
    "ImportWarning",
    "PlanDoc",
    "UnsupportedFormat",
    "detect_format",
    "export_xlsx",
    "parse",
    "parse_text",
    "to_json",
]
