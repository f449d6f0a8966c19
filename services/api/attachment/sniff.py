"""Decide a file's type from its bytes; the client's name and Content-Type are not trusted."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT = "text/plain; charset=utf-8"

EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg", DOCX: ".docx", XLSX: ".xlsx", TEXT: ".txt"}
# Zip bombs: refuse an OOXML package whose content-types part is implausibly large.
_MAX_CONTENT_TYPES = 1 << 20


def _ooxml(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo("[Content_Types].xml")
            if info.file_size > _MAX_CONTENT_TYPES:
                return None
            types = zf.read(info).decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError, RuntimeError, NotImplementedError, OSError, EOFError):
        return None
    if "wordprocessingml.document.main+xml" in types:
        return DOCX
    if "spreadsheetml.sheet.main+xml" in types:
        return XLSX
    return None


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text)


def detect(data: bytes) -> str | None:
    """The allowed MIME type the content really is, or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _ooxml(data)
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
