from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.external import EXTERNAL_ID_DOC
from duban.models import PlanBase, PlanState, ReportCadence, SectionBase, UnitKind
from duban.text import Name
from plandoc.interchange import ImportWarning, UnitSuggestion


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
    state: PlanState = Field(
        description="draft：草稿（未交办，单位不可见）；published：已发布交办；superseded：已被新版本替代（只读）"
    )
    published_at: datetime | None = None
    supersedes_id: int | None = Field(default=None, description="本计划是其新版本的原计划")
    version: int
    created_at: datetime
    updated_at: datetime
    status: Status


class PlanDetail(PlanPublic):
    sections: list[SectionPublic]


class UnresolvedName(BaseModel):
    name: str = Field(description="文件中的写法")
    tasks: list[str] = Field(description="写到该名称的任务编号")
    suggestions: list[UnitSuggestion] = Field(description="相近的已有单位（按相似度）")


class PublishChecks(BaseModel):
    """What publishing the draft would do, and what to look at first."""

    plan_id: int
    state: PlanState
    tasks: int
    tasks_to_assign: int = Field(description="已指定责任单位、发布时将交办的任务数")
    past_deadlines: int = Field(description="截止日期已过的任务数")
    unresolved_units: list[UnresolvedName]
    can_publish: bool
    warnings: list[ImportWarning]


class PublishResult(BaseModel):
    plan_id: int
    state: PlanState
    published_at: datetime | None
    assignments: int = Field(description="新建交办事项数")
    withdrawn: int = Field(default=0, description="被替代的旧版本中随之撤销的未办结事项数")
    units_notified: int = Field(description="收到交办通知的单位数（每单位一条）")
    warnings: list[ImportWarning]


class DeadlineShift(BaseModel):
    years: int = Field(default=0, ge=-20, le=20)
    months: int = Field(default=0, ge=-240, le=240)
    days: int = Field(default=0, ge=-3650, le=3650)


class DeadlineShiftResult(DeadlineShift):
    plan_id: int
    tasks: int
    targets: int
    indicators: int


class NameResolution(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="草稿中待确认的单位名称（原文写法）")
    unit_id: int | None = Field(default=None, description="指向的已有单位")
    create: bool = Field(default=False, description="新建同名单位")
    kind: UnitKind | None = Field(default=None, description="新建时的单位类型（缺省按名称推断）")
    remember: bool = Field(default=True, description="把该写法保存为单位别名，下次导入自动识别")


class NameResolutionResult(BaseModel):
    name: str
    unit_id: int | None
    unit_name: str
    created: bool
    task_units: int
