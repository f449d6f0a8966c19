"""Database-free plan reader: text, .docx, .pdf, .xlsx and JSON into the plan interchange format."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import PurePath
from typing import Any

from .docx import parse_docx
from .interchange import ImportResult, ImportWarning, PlanDoc
from .limits import UnreadableDocument
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


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97–2003 .doc, Excel .xls, .wps
_IMAGES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_ARCHIVES = (b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")
_KIND_NAMES = {"docx": ".docx 文档", "xlsx": ".xlsx 表格", "pdf": "PDF 文件"}


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise UnsupportedFormat("压缩包已损坏") from exc
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise UnsupportedFormat("压缩包既不是 .docx 也不是 .xlsx 文件")


def _binary_kind(data: bytes) -> str | None:
    """What the bytes themselves are, whatever the file is called: a .docx renamed .xlsx is still
    read as Word, a .doc renamed .docx is refused with the reason."""
    if data.startswith(_OLE):
        raise UnsupportedFormat(
            "旧版文档（.doc / .xls / .wps）不能直接导入，请用办公软件另存为 .docx 或 .xlsx 后再导入"
        )
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"PK"):
        return _zip_kind(data)
    if data.startswith(_IMAGES):
        raise UnsupportedFormat(
            "图片文件不能导入（不做文字识别），请导入计划的 .docx、带文字层的 PDF 或文本版本"
        )
    if data.startswith(_ARCHIVES):
        raise UnsupportedFormat("压缩包不能直接导入，请解压后逐个导入计划文件")
    return None


def detect_format(data: bytes | str, filename: str | None = None) -> str:
    if isinstance(data, str):
        return "json" if data.lstrip().startswith("{") else "text"
    by_content = _binary_kind(data)
    if by_content is not None:
        return by_content
    if filename:
        by_name = _EXTENSIONS.get(PurePath(filename).suffix.lower())
        if by_name in _KIND_NAMES:
            raise UnsupportedFormat(
                f"文件扩展名为 {PurePath(filename).suffix}，但内容不是 {_KIND_NAMES[by_name]}"
                "（文件可能已损坏，或只是改了扩展名）"
            )
        if by_name is not None:
            return by_name
    if data.startswith(tuple(bom for bom, _ in _BOMS)) or _utf16_without_bom(data[:64]) is not None:
        # A marked (or UTF-16) text: look at its characters, not its bytes.
        return "json" if decode_text(data).lstrip().startswith("{") else "text"
    if data.lstrip(b" \t\r\n").startswith(b"{"):
        return "json"
    return "text"


# Byte-order marks, longest first (a UTF-32 LE mark begins like a UTF-16 LE one).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),  # Notepad's 「Unicode」
    (b"\xfe\xff", "utf-16"),  # 「Unicode big endian」
)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a mark: the ASCII in it (line breaks, digits, punctuation) puts a NUL in
    every other byte, the odd ones for little endian, the even ones for big endian; a few CJK
    characters (U+4E00…) put one on the other side, far fewer. UTF-8 and GB18030 have none."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    half = len(sample) // 2
    for encoding, zeros, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros >= max(2, half // 8) and other * 4 < zeros:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def decode_text(data: bytes) -> str:
    """Text as offices save it: UTF-8, UTF-16 (with or without its mark), GB18030 (and so GBK)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise UnsupportedFormat("文本编码已损坏（字节顺序标记与内容不符）") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise UnsupportedFormat("无法识别文本编码（支持 UTF-8、UTF-16 与 GB18030/GBK）") from exc


def _parse_json(data: bytes | str) -> ImportResult:
    try:
        raw: Any = json.loads(data if isinstance(data, str) else decode_text(data))
    except json.JSONDecodeError as exc:
        raise UnreadableDocument(
            f"计划 JSON 无法解析（第{exc.lineno}行第{exc.colno}列附近格式有误）"
        ) from exc
    if isinstance(raw, dict) and "document" in raw:
        # A dry run's JSON output (`duban plan import --dry-run --json`) imports back as it is.
        raw = {k: v for k, v in raw.items() if k not in ("dry_run", "summary")}
        return ImportResult.model_validate(raw)
    return ImportResult(document=PlanDoc.model_validate(raw))


def parse(data: bytes | str, *, format: str = "auto", filename: str | None = None) -> ImportResult:
    """Read a plan from text, .docx, .pdf, .xlsx or interchange JSON."""
    if format not in FORMATS:
        raise UnsupportedFormat(f"未知的格式“{format}”")
    kind = detect_format(data, filename) if format == "auto" else format
    if kind == "json":
        return _parse_json(data)
    if kind == "text":
        return parse_text(data if isinstance(data, str) else decode_text(data))
    if isinstance(data, str):
        raise UnsupportedFormat(f".{kind} 须以文件上传，不能作为文本提交")
    if format != "auto" and _binary_kind(data) != kind:
        raise UnsupportedFormat(f"文件内容不是 {_KIND_NAMES[kind]}（格式指定为 .{kind}）")
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
    "UnreadableDocument",
    "UnsupportedFormat",
    "detect_format",
    "export_xlsx",
    "parse",
    "parse_text",
    "to_json",
]
