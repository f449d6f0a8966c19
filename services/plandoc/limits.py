"""What reading one .docx or .xlsx may cost: checked before and while it is read, never after.

An Office file is a zip. Before anything is decompressed, its directory is checked: the number of
members, each member's declared size and compression ratio, and their sum (a zip bomb — 1 MB
that inflates to gigabytes — is refused here; Python's zipfile never yields more than a member's
declared size). A workbook is then read row by row (openpyxl read-only) and refused at the first
row or cell past the limit, so a 400,000-row sheet costs the same as one of `MAX_ROWS` rows.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

MAX_MEMBERS = 2_000
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # all members together
MAX_MEMBER_BYTES = 32 * 1024 * 1024  # one part: a long plan's document.xml is a few MB
# Text XML compresses 5–20×; a member far beyond that, and large, is a bomb.
MAX_RATIO = 200
_RATIO_FROM_BYTES = 1024 * 1024
MAX_ROWS = 20_000  # per sheet (rows written empty count too); a 任务分解表 has a few hundred
MAX_LINES = 100_000  # paragraphs and table rows of a .docx
MAX_CELLS = 1_000_000  # per workbook, empty cells inside a row included


class UnreadableDocument(ValueError):
    """A file of a known kind that cannot be read (a damaged or encrypted PDF, a scan without a text
    layer); `str()` is the Chinese sentence for the office."""


class DocumentTooLarge(ValueError):
    """The file exceeds a reading limit; `str()` is the Chinese sentence, `details` the figures."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def check_archive(data: bytes) -> None:
    """Refuse a zip whose directory promises more than a plan document can need."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return  # not a readable zip: the reader reports it as damaged
    if len(members) > MAX_MEMBERS:
        raise DocumentTooLarge(
            f"文件内部部件过多（{len(members)} 个，上限 {MAX_MEMBERS} 个）",
            members=len(members),
            limit=MAX_MEMBERS,
        )
    total = 0
    for info in members:
        size = info.file_size
        total += size
        if size > MAX_MEMBER_BYTES:
            raise DocumentTooLarge(
                f"文件解压后过大（{info.filename} 达 {_mb(size)}，上限 {_mb(MAX_MEMBER_BYTES)}）",
                member=info.filename,
                uncompressed_bytes=size,
                limit=MAX_MEMBER_BYTES,
            )
        ratio = size // max(info.compress_size, 1)
        if size > _RATIO_FROM_BYTES and ratio > MAX_RATIO:
            raise DocumentTooLarge(
                f"文件压缩比异常（{info.filename} 压缩了 {ratio} 倍），疑为压缩炸弹",
                member=info.filename,
                ratio=ratio,
                limit=MAX_RATIO,
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DocumentTooLarge(
            f"文件解压后过大（{_mb(total)}，上限 {_mb(MAX_UNCOMPRESSED_BYTES)}）",
            uncompressed_bytes=total,
            limit=MAX_UNCOMPRESSED_BYTES,
        )


_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>/]")
_CHUNK = 1024 * 1024


def check_sheets(data: bytes) -> None:
    """Count each worksheet's rows and cells on the raw XML, streamed, before openpyxl sees it.

    openpyxl's read-only reader scans a whole sheet on opening when the sheet declares no
    dimension, so the limit has to be enforced before it: one pass of decompression and a regular
    expression, a fraction of a second for a 400,000-row sheet.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return
    max_rows, max_cells = MAX_ROWS, MAX_CELLS
    cells = 0
    with archive:
        for info in archive.infolist():
            if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
                continue
            rows = 0
            tail = b""
            with archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    # A tag split across two chunks is seen whole in the next window, counted once (the
                    # last 64 bytes, the closing tags, are never counted).
                    window = tail + chunk
                    cut = max(0, len(window) - 64)
                    rows += sum(1 for m in _ROW.finditer(window) if m.start() < cut)
                    cells += sum(1 for m in _CELL.finditer(window) if m.start() < cut)
                    tail = window[cut:]
                    if rows > max_rows:
                        raise DocumentTooLarge(
                            f"工作表超过 {max_rows} 行，请删去空行或拆分后再导入",
                            member=info.filename,
                            limit=max_rows,
                        )
                    if cells > max_cells:
                        raise DocumentTooLarge(
                            f"表格单元格过多（超过 {max_cells} 个），请删去多余的行列后再导入",
                            member=info.filename,
                            limit=max_cells,
                        )


class CellBudget:
    """Counts rows and cells while a workbook streams; raises at the first one past a limit."""

    def __init__(self, max_rows: int | None = None, max_cells: int | None = None) -> None:
        self.max_rows = MAX_ROWS if max_rows is None else max_rows
        self.max_cells = MAX_CELLS if max_cells is None else max_cells
        self.cells = 0

    def rows(self, sheet: str, rows: Any) -> list[list[Any]]:
        out: list[list[Any]] = []
        for row in rows:
            if len(out) >= self.max_rows:
                raise DocumentTooLarge(
                    f"工作表「{sheet}」超过 {self.max_rows} 行，请删去空行或拆分后再导入",
                    sheet=sheet,
                    limit=self.max_rows,
                )
            self.cells += len(row)
            if self.cells > self.max_cells:
                raise DocumentTooLarge(
                    f"表格单元格过多（超过 {self.max_cells} 个），请删去多余的行列后再导入",
                    sheet=sheet,
                    limit=self.max_cells,
                )
            out.append(list(row))
        return out
