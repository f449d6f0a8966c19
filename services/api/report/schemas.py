from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from duban.amounts import Amount
from duban.models import ProgressReportState


class IndicatorValueIn(BaseModel):
    indicator_id: int
    value: Amount


class ReportCreate(BaseModel):
    period: str | None = Field(
        default=None, max_length=10, description="报告期，如 2025-06、2025-Q2、2025-W23；缺省为当前期"
    )
    text: str = Field(default="", max_length=20000)
    percent_done: int | None = Field(default=None, ge=0, le=100)
    indicator_values: list[IndicatorValueIn] = Field(default_factory=list, max_length=200)
    submit: bool = Field(default=False, description="true：创建即提交审核（一次请求完成填报与提交）")


class ReportUpdate(BaseModel):
    text: str | None = Field(default=None, max_length=20000)
    percent_done: int | None = Field(default=None, ge=0, le=100)
    indicator_values: list[IndicatorValueIn] | None = Field(default=None, max_length=200)


class ReportReview(BaseModel):
    reason: str | None = Field(default=None, max_length=2000, description="审核意见；退回时必填")


class AttachmentBrief(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by_id: int | None
    created_at: datetime


class ReportFields(BaseModel):
    id: int
    assignment_id: int
    unit_id: int
    plan_id: int
    period: str
    period_due_date: date | None
    percent_done: int
    state: ProgressReportState
    author_id: int | None
    submitted_at: datetime | None
    reviewed_at: datetime | None
    reviewer_id: int | None
    review_comment: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class ReportListItem(ReportFields):
    task_id: int
    task_code: str
    task_title: str
    unit_name: str


class ReportPublic(ReportFields):
    text: str
    indicator_values: list[IndicatorValueIn]
    attachments: list[AttachmentBrief]
