"""`duban calendar` and `duban calendar set YEAR FILE`: the same service as the API, from a shell."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import Session

from api.calendar import notice, service
from api.calendar.schemas import YearNotice
from duban.errors import Unprocessable

LABELS = {"package": "软件包 chinesecalendar", "office": "办公室载入", "none": "未覆盖（按周一至周五计算）"}


def coverage_text(session: Session, *, now: datetime) -> str:
    lines = [f"{'年份':<6}覆盖"]
    for row in service.years(session, now=now):
        extra = ""
        if row["coverage"] == "office":
            extra = f"：休 {row['office_rest_days']} 天，班 {row['office_work_days']} 天"
            if row["source"]:
                extra += f"，来源 {row['source']}"
        lines.append(f"{row['year']:<8}{LABELS[row['coverage']]}{extra}")
    return "\n".join(lines)


def set_from_file(session: Session, *, year: int, path: Path, now: datetime) -> str:
    """Load `path` (JSON or the text format, see docs/calendar.md) as `year`'s notice."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Unprocessable(f"无法读取文件 {path}：{exc}", code="calendar.bad_file") from exc
    try:
        body = YearNotice.model_validate(notice.parse_file(content))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Unprocessable(f"文件内容不合法：{where} {first.get('msg')}", code="calendar.bad_file") from exc
    out = service.set_year(session, actor=None, year=year, notice=body, now=now)
    return (
        f"{year}年：已载入 休 {out['office_rest_days']} 天、班 {out['office_work_days']} 天"
        f"（来源：{out['source'] or '未注明'}）；顺延截止日期的在办交办 {out['moved_assignments']} 项"
    )
