from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class CalendarWarning(BaseModel):
    code: Literal["calendar.year_uncovered"]
    message: str = Field(description="给人看的提示（中文）")
    years: list[int] = Field(description="尚未载入节假日安排的年份")


class NoticeDay(BaseModel):
    date: date
    name: str = Field(default="", max_length=100, description="节日名称，如“元旦”“春节调休”")


class YearNotice(BaseModel):
    """国务院办公厅关于某年部分节假日安排的通知，作为数据。"""

    source: str = Field(default="", max_length=200, description="来源，如通知文号")
    rest_days: list[NoticeDay | date] = Field(
        min_length=1, max_length=120, description="放假日（含调休形成的休息日）"
    )
    work_days: list[NoticeDay | date] = Field(
        default_factory=list, max_length=60, description="调休上班日（通常为周末）"
    )


Coverage = Literal["package", "office", "none"]


class YearCoverage(BaseModel):
    year: int
    coverage: Coverage = Field(
        description=(
            "package：依据 chinesecalendar；office：办公室载入（优先）；none：无人覆盖，按周一至周五计算"
        )
    )
    office_rest_days: int = 0
    office_work_days: int = 0
    source: str | None = None
    updated_at: datetime | None = None


class YearSetResult(YearCoverage):
    moved_assignments: int = Field(description="截止日期因此落在休息日、已顺延至下一个工作日的在办交办数")


class CalendarDayPublic(BaseModel):
    date: date
    is_working_day: bool
    kind: Literal["workday", "weekend", "holiday", "adjusted_workday"] = Field(
        description="workday 工作日；weekend 周末；holiday 法定节假日；adjusted_workday 调休上班"
    )
    name: str | None = None
    source: Literal["package", "office", "weekday"] = Field(
        description="依据：package 软件包、office 办公室载入、weekday 周一至周五规则"
    )
    coverage: Coverage
    working_ordinal: int = Field(description="自纪元起的工作日序号；两日之差即其间的工作日数")
