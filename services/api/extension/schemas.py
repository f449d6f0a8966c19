from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.calendar.schemas import CalendarWarning
from duban.models import RequestState


class ExtensionCreate(BaseModel):
    requested_due_date: date = Field(description="申请的新截止日期（逢节假日顺延至下一个工作日）")
    reason: str = Field(min_length=1, max_length=2000)


class ExtensionDecision(BaseModel):
    comment: str | None = Field(default=None, max_length=2000, description="审批意见；驳回时必填")


class ExtensionPublic(BaseModel):
    id: int
    assignment_id: int
    unit_id: int
    requested_due_date: date
    previous_due_date: date | None
    reason: str
    state: RequestState
    requested_by_id: int | None
    decided_by_id: int | None
    decided_at: datetime | None
    decision_comment: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    warnings: list[CalendarWarning] = Field(
        default_factory=list, description="申请日期落在尚未载入节假日安排的年份时的提示"
    )


class ExtensionListItem(ExtensionPublic):
    task_id: int
    task_code: str
    task_title: str
    unit_name: str
