"""Decide a file's type from its bytes; the client's name and Content-Type are not trusted."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import PurePath
from xml.etree import ElementTree

import olefile

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT = "text/plain; charset=utf-8"
# Word 97–2003 and Excel 97–2003: OLE2 compound files (magic D0 CF 11 E0 A1 B1 1A E1).
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
# Kingsoft WPS 文字 .wps: the same compound-file layout as .doc (a WordDocument stream); only the
# name tells them apart, so the name chooses between two types the bytes both allow.
WPS = "application/wps-office.wps"
# OFD (GB/T 33190, the national layout format): a zip with OFD.xml at its root.
OFD = "application/ofd"

EXTENSIONS = {
    PDF: ".pdf",
    PNG: ".png",
    JPEG: ".jpg",
    DOCX: ".docx",
    XLSX: ".xlsx",
    DOC: ".doc",
    XLS: ".xls",
    WPS: ".wps",
    OFD: ".ofd",
    TEXT: ".txt",
}
# Zip bombs: refuse a package whose content-types part (or OFD.xml) is implausibly large.
_MAX_CONTENT_TYPES = 1 << 20
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OFD_NS = "http://www.ofdspec.org/2016"
# A document that carries a program is refused: members a package has no business holding.
_EXECUTABLE = re.compile(r"\.(exe|dll|com|scr|bat|cmd|ps1|vbs|vbe|js|jse|wsf|msi|jar|lnk|hta)$", re.I)
# OLE2 storages holding VBA macros (Word: Macros; Excel: _VBA_PROJECT_CUR).
_MACRO_STORAGES = ("Macros", "_VBA_PROJECT_CUR", "_VBA_PROJECT")


def _ooxml(zf: zipfile.ZipFile) -> str | None:
    info = zf.getinfo("[Content_Types].xml")
    if info.file_size > _MAX_CONTENT_TYPES:
        return None
    types = zf.read(info).decode("utf-8", "replace")
    if "wordprocessingml.document.main+xml" in types:
        return DOCX
    if "spreadsheetml.sheet.main+xml" in types:
        return XLSX
    return None


def _ofd(zf: zipfile.ZipFile) -> str | None:
    info = zf.getinfo("OFD.xml")
    if info.file_size > _MAX_CONTENT_TYPES:
        return None
    try:
        root = ElementTree.fromstring(zf.read(info))
    except ElementTree.ParseError:
        return None
    # The root is ofd:OFD in the standard's namespace; a few producers omit the namespace.
    return OFD if root.tag in (f"{{{_OFD_NS}}}OFD", "OFD") else None


def _zip(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if any(_EXECUTABLE.search(n) for n in names):
                return None
            if "[Content_Types].xml" in names:
                return _ooxml(zf)
            if "OFD.xml" in names:
                return _ofd(zf)
    except (zipfile.BadZipFile, KeyError, RuntimeError, NotImplementedError, OSError, EOFError):
        return None
    return None


def _ole(data: bytes, filename: str | None) -> str | None:
    """Word/WPS or Excel 97–2003 by their streams; any other compound file (an .msi installer,
    an encrypted package, a macro-bearing document) is refused."""
    try:
        # types-olefile ties exists()'s argument to the type of what was opened (bytes here), but
        # olefile takes stream names as str whatever it opened.
        with olefile.OleFileIO(data) as ole:
            if any(ole.exists(name) for name in _MACRO_STORAGES):  # type: ignore[arg-type]
                return None
            if ole.exists("WordDocument"):  # type: ignore[arg-type]
                suffix = PurePath(filename or "").suffix.lower()
                return WPS if suffix == ".wps" else DOC
            if ole.exists("Workbook") or ole.exists("Book"):  # type: ignore[arg-type]
                return XLS
    except Exception:  # noqa: BLE001 - olefile raises what a damaged file makes it; all mean "refuse"
        return None
    return None


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text)


def detect(data: bytes, filename: str | None = None) -> str | None:
    """The allowed MIME type the content really is, or None. The name only ever chooses between
    types the bytes already prove (.doc or .wps)."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _zip(data)
    if data.startswith(_OLE_MAGIC):
        return _ole(data, filename)
    if data and _is_text(data):
        return TEXT
    return None


_UNSAFE = re.compile(r'[<>:"|?*]')


def safe_filename(name: str | None, content_type: str) -> str:
    """The last path component, without control or reserved characters, at most 255 characters."""
    raw = unicodedata.normalize("NFC", name or "")
    raw = re.split(r"[\\/]", raw)[-1]
    cleaned = "".join(ch for ch in raw if not unicodedata.category(ch).startswith("C"))
    cleaned = _UNSAFE.sub("_", cleaned).strip().lstrip(".").strip()
    ext = EXTENSIONS[content_type]
    if not cleaned:
        cleaned = "附件" + ext
    if len(cleaned) > 255:
        stem, dot, suffix = cleaned.rpartition(".")
        suffix = suffix[:16] if dot else ""
        cleaned = (stem if dot else cleaned)[: 255 - len(suffix) - 1] + ("." + suffix if suffix else "")
    return cleaned
