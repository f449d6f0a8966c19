"""PDFs with a text layer (no OCR): page text via pypdf, hard line wraps undone, then the text reader."""

from __future__ import annotations

import io
import logging
import re

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from .interchange import ImportResult
from .limits import UnreadableDocument
from .text import parse_text

# pypdf logs what it repaired in a damaged file (EOF marker not found) to stderr; the reader says in
# its own words (UnreadableDocument) what the office must do.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_PAGE_NUMBER = re.compile(r"^[-—–\s]*\d{1,4}[-—–\s]*$")
_NUMBERED = re.compile(r"^(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十\d]+[)）]|\d{1,3}[.．、])")
_ENDS_PARAGRAPH = tuple("。：:；;！？!?）)")


def _unwrap(lines: list[str]) -> list[str]:
    """Join lines that a PDF broke at the page width back into paragraphs.

    A line is a wrap when it is about as long as the page's full lines and does not end a sentence;
    headings and short lines stay on their own.
    """
    lengths = sorted(len(ln) for ln in lines if ln)
    if not lengths:
        return []
    full = lengths[int(len(lengths) * 0.9) - 1 if len(lengths) > 1 else 0]
    out: list[str] = []
    joining = False
    for line in lines:
        if joining and out and not _NUMBERED.match(line):
            out[-1] += line
        else:
            out.append(line)
        joining = len(line) >= 0.85 * full and not line.endswith(_ENDS_PARAGRAPH)
    return out


def pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableDocument("PDF 文件已加密，请先解除密码保护（或导出未加密的版本）再导入")
        lines: list[str] = []
        for page in reader.pages:
            for raw in (page.extract_text() or "").splitlines():
                line = raw.strip()
                if line and not _PAGE_NUMBER.match(line):
                    lines.append(line)
    except PdfReadError as exc:  # PdfStreamError, a damaged xref, a truncated download
        raise UnreadableDocument("PDF 文件已损坏或不完整，无法读取，请重新导出或下载后再导入") from exc
    if not lines:
        raise UnreadableDocument(
            "PDF 中没有可提取的文字（可能是扫描件或图片），请导入带文字层的 PDF，或 .docx、文本版本"
        )
    return "\n".join(_unwrap(lines))


def parse_pdf(data: bytes) -> ImportResult:
    return parse_text(pdf_text(data))
