"""`duban calendar` (coverage per year) and `duban calendar set YEAR FILE` (load a year's notice).

The same service as the API (api.calendar); the file is JSON or the text format of
docs/calendar.md (api.calendar.notice).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import ValidationError

from api.calendar import notice, service
from api.calendar.schemas import YearNotice
from duban import calendar_store
from duban.errors import DubanError

LABELS = {"package": "软件包 chinesecalendar", "office": "办公室载入", "none": "未覆盖（按周一至周五计算）"}


def _err(message: str) -> None:
    sys.stderr.write(message + "\n")


def cli_coverage() -> int:
    from duban.clock import get_clock
    from duban.db import session_scope

    with session_scope(read_only=True) as session:
        rows = service.years(session, now=get_clock().now())
    lines = ["年份    覆盖"]
    for row in rows:
        extra = ""
        if row["coverage"] == "office":
            extra = f"：休 {row['office_rest_days']} 天，班 {row['office_work_days']} 天"
            if row["source"]:
                extra += f"，来源 {row['source']}"
        lines.append(f"{row['year']}    {LABELS[row['coverage']]}{extra}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cli_set(*, year: int, path: str) -> int:
    """Load `path` as `year`'s notice; 0 on success, 1 with a message people read otherwise."""
    from duban.clock import get_clock
    from duban.db import session_scope

    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"无法读取文件 {path}：{exc}")
        return 1
    try:
        body = YearNotice.model_validate(notice.parse_file(content))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        _err(f"文件内容不合法：{where} {first.get('msg')}")
        return 1
    except DubanError as exc:
        _err(exc.message)
        return 1
    try:
        with session_scope() as session:
            calendar_store.refresh(session)
            out = service.set_year(session, actor=None, year=year, notice=body, now=get_clock().now())
    except DubanError as exc:
        _err(exc.message)
        return 1
    sys.stdout.write(
        f"{year}年：已载入 休 {out['office_rest_days']} 天、班 {out['office_work_days']} 天"
        f"（来源：{out['source'] or '未注明'}）；截止日期顺延的在办交办 {out['moved_assignments']} 项\n"
    )
    return 0
