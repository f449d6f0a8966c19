from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.external import EXTERNAL_ID_DOC
from duban.models import PlanBase, ReportCadence, SectionBase
from duban.text import Name


class Status(BaseModel):
    """Derived from the plan's or task's assignments (those the caller may see)."""

    status: str = Field(description="unassigned / assigned / in_progress / overdue / completed / cancelled")
    total: int
    open: int
    overdue: int
    by_state: dict[str, int]


class PlanCreate(PlanBase):
    title: Name = Field(max_length=300)
    external_id: str | None = Field(default=None, max_length=100, description=EXTERNAL_ID_DOC)


class PlanPut(PlanBase):
    """The whole plan, as PUT by an integration under its external id."""

    title: Name = Field(max_length=300)


class PlanUpdate(BaseModel):
    title: Name | None = Field(default=None, min_length=1, max_length=300)
    doc_no: str | None = Field(default=None, max_length=100)
    issuer: str | None = Field(default=None, max_length=200)
    issued_on: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    timezone: str | None = Field(default=None, max_length=64)
    report_cadence: ReportCadence | None = None
    report_due_day: int | None = Field(default=None, ge=1, le=28)


class SectionCreate(BaseModel):
    code: Name = Field(min_length=1, max_length=20, description="文件中的编号，如“一”")
    title: Name = Field(min_length=1, max_length=300)
    position: int | None = Field(default=None, ge=0, description="缺省排在最后")


class SectionUpdate(BaseModel):
    code: Name | None = Field(default=None, min_length=1, max_length=20)
    title: Name | None = Field(default=None, min_length=1, max_length=300)
    position: int | None = Field(default=None, ge=0)


class SectionPublic(SectionBase):
    id: int
    plan_id: int
    version: int


class PlanPublic(PlanBase):
    id: int
    external_id: str | None
    external_source_id: int | None = Field(description="外部编号所属的服务账号；人员设置的为空")
    created_by_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    status: Status


class PlanDetail(PlanPublic):
    sections: list[SectionPublic]
