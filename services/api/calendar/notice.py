"""The State Council's holiday notice as a file: JSON (the API's body) or a short text format.

Text format, one entry per line (`#` starts a comment)::

    source: 国办发明电〔2026〕7号
    休 2027-01-01..2027-01-03 元旦
    班 2027-02-07 春节调休
    rest 2027-02-10..2027-02-17 春节
    work 2027-02-20

`休`/`rest` lines are rest days, `班`/`work` lines adjusted working days; a date or an inclusive
range `A..B` (also `A~B`, `A至B`), then an optional name.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

from duban.errors import Unprocessable

_KINDS = {"休": "rest", "rest": "rest", "放假": "rest", "班": "work", "work": "work", "上班": "work"}
_LINE = re.compile(
    r"^(?P<kind>\S+)\s+(?P<start>\d{4}-\d{1,2}-\d{1,2})(?:\s*(?:\.\.|~|至)\s*(?P<end>\d{4}-\d{1,2}-\d{1,2}))?"
    r"(?:\s+(?P<name>.+?))?\s*$"
)
_MAX_RANGE_DAYS = 31


def _day(text: str, lineno: int) -> date:
    try:
        y, m, d = (int(p) for p in text.split("-"))
        return date(y, m, d)
    except ValueError as exc:
        raise Unprocessable(
            f"第{lineno}行的日期“{text}”无效", code="calendar.bad_file", details={"line": lineno}
        ) from exc


def parse_text(text: str) -> dict[str, Any]:
    body: dict[str, Any] = {"source": "", "rest_days": [], "work_days": []}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition(":") if ":" in line else line.partition("：")
        if sep and key.strip().lower() in ("source", "来源", "文号"):
            body["source"] = value.strip()
            continue
        m = _LINE.match(line)
        kind = _KINDS.get(m["kind"].lower()) if m else None
        if m is None or kind is None:
            raise Unprocessable(
                f"第{lineno}行无法识别：应为“休 日期[..日期] [名称]”或“班 日期 [名称]”",
                code="calendar.bad_file",
                details={"line": lineno, "text": raw[:200]},
            )
        start = _day(m["start"], lineno)
        end = _day(m["end"], lineno) if m["end"] else start
        if end < start or (end - start).days >= _MAX_RANGE_DAYS:
            raise Unprocessable(
                f"第{lineno}行的日期范围无效", code="calendar.bad_file", details={"line": lineno}
            )
        name = (m["name"] or "").strip()
        target = body["rest_days" if kind == "rest" else "work_days"]
        day = start
        while day <= end:
            target.append({"date": day.isoformat(), "name": name})
            day += timedelta(days=1)
    return body


def parse_file(content: str) -> dict[str, Any]:
    """JSON when it looks like JSON, the text format otherwise."""
    if content.lstrip().startswith("{"):
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise Unprocessable(
                f"JSON 格式错误：{exc.msg}（第{exc.lineno}行）", code="calendar.bad_file"
            ) from exc
        if not isinstance(data, dict):
            raise Unprocessable("JSON 应为一个对象", code="calendar.bad_file")
        return data
    return parse_text(content)
