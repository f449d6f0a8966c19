"""Text people type: one policy for what is accepted on the way in and what an export may write.

On the way in (the api's JSON bodies, `api/textcheck.py`; names through `Name`; the CLI's own
arguments) text is NFC-normalised and refused, with a Chinese sentence naming the character, when
it carries a control or format character: C0 controls except tab, newline and carriage return
(only multi-line text keeps those: names are one line), DEL and the C1 controls, noncharacters
(U+FFFE, U+FFFF, …), lone surrogates, zero-width characters, and the bidirectional controls that
make 「县科技局」 and a look-alike differ invisibly. Whitespace-only names are refused.

On the way out (`for_xml`), text already stored is made writable into .xlsx/.docx: characters XML
1.0 cannot carry are dropped (a vertical tab, Word's manual line break, becomes a newline).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator

_NAMES: dict[int, str] = {
    0x0B: "垂直制表符，即手动换行符",
    0x0C: "换页符",
    0x7F: "删除符",
    0x200B: "零宽空格",
    0x200C: "零宽非连接符",
    0x200D: "零宽连接符",
    0x200E: "从左到右标记",
    0x200F: "从右到左标记",
    0x2060: "零宽不换行空格",
    0xFEFF: "零宽不换行空格或字节顺序标记",
    0x061C: "阿拉伯字母标记",
}
_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}

# Refused anywhere (tab, newline and carriage return are judged by the field: see single_line).
_REFUSED = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f"  # C0 but \t \n \r
    "\x7f-\x9f"  # DEL, C1
    "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"  # zero-width, bidi, invisible
    "\ufdd0-\ufdef\ufffe\uffff"  # noncharacters of the BMP
    "\ud800-\udfff"  # lone surrogates (not text; PostgreSQL cannot store them)
    "\U0001fffe\U0001ffff\U0010fffe\U0010ffff"
    "]"
)
_LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029\x85]")
# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class TextRefused(ValueError):
    """A ValueError with a Chinese sentence: pydantic and the api show it as written."""


def describe(char: str) -> str:
    code = ord(char)
    name = _NAMES.get(code)
    if name is None:
        if code in _BIDI:
            name = "双向文字控制符"
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            name = "控制字符"
        elif 0xD800 <= code <= 0xDFFF:
            name = "不成对的代理码位"
        else:
            name = "不可见字符"
    return f"U+{code:04X}（{name}）"


def first_refused(value: str) -> str | None:
    found = _REFUSED.search(value)
    return found.group() if found else None


def clean(value: str, *, multiline: bool = True) -> str:
    """NFC, or TextRefused naming the first character that may not be stored."""
    bad = first_refused(value)
    if bad is None and not multiline:
        found = _LINE_BREAKS.search(value)
        bad = found.group() if found else None
        if bad is not None:
            raise TextRefused(f"不能含有换行或制表符 {describe(bad)}")
    if bad is not None:
        raise TextRefused(f"含有不可见或控制字符 {describe(bad)}，请删除后重试")
    return unicodedata.normalize("NFC", value)


def clean_name(value: str) -> str:
    """A name or title: one line, no invisible characters, not blank, without surrounding spaces."""
    value = clean(value, multiline=False).strip()
    if not value:
        raise TextRefused("不能为空白")
    return value


Name = Annotated[str, AfterValidator(clean_name)]


def clean_tree(value: Any, path: tuple[str, ...] = ()) -> tuple[Any, list[tuple[tuple[str, ...], str]]]:
    """Every string of a parsed JSON value cleaned; the refusals as (path, Chinese sentence)."""
    errors: list[tuple[tuple[str, ...], str]] = []

    def walk(v: Any, at: tuple[str, ...]) -> Any:
        if isinstance(v, str):
            try:
                return clean(v)
            except TextRefused as exc:
                errors.append((at, str(exc)))
                return v
        if isinstance(v, list):
            return [walk(item, (*at, str(i))) for i, item in enumerate(v)]
        if isinstance(v, dict):
            return {k: walk(item, (*at, str(k))) for k, item in v.items()}
        return v

    return walk(value, path), errors


def for_xml(value: str) -> str:
    """Stored text made writable into an Office document (XML 1.0); line breaks kept as newlines."""
    if not _NOT_XML.search(value):
        return value
    return _NOT_XML.sub(lambda m: "\n" if m.group() in "\x0b\x0c" else "", value)


def for_xml_tree(value: Any) -> Any:
    """`for_xml` on every string of a JSON-like value (a bulletin's stored content)."""
    if isinstance(value, str):
        return for_xml(value)
    if isinstance(value, list):
        return [for_xml_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: for_xml_tree(v) for k, v in value.items()}
    return value
