from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.calendar.schemas import CalendarWarning
from duban.models import AssignmentState, UnitRole


class AssignRequest(BaseModel):
    unit_ids: list[int] = Field(default_factory=list, max_length=500, description="交办单位")
    group_ids: list[int] = Field(default_factory=list, max_length=50, description="单位组（按成员展开）")
    role: UnitRole | None = Field(default=None, description="角色；缺省时沿用任务中的角色")
    due_date: date | None = Field(default=None, description="一次性任务的截止日期；缺省为任务截止日期")
    period: str | None = Field(
        default=None, max_length=10, description="只交办周期性任务的这一周期（如 2025、2025-Q2）"
    )
    external_id: str | None = Field(
        default=None,
        max_length=100,
        description="集成方对这一个交办事项的编号（须只指定一个单位）；重复提交时答复原事项（200）",
    )


class AssignmentPut(BaseModel):
    """One assignment as an integration PUTs it under its external id."""

    task_id: int
    unit_id: int
    role: UnitRole | None = Field(default=None, description="角色；缺省时沿用任务中的角色")
    due_date: date | None = Field(default=None, description="一次性任务的截止日期；缺省为任务截止日期")
    period: str | None = Field(default=None, max_length=10, description="周期性任务须指定周期")


class ActionRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=2000, description="理由（退回、驳回时必填）")


class ReassignRequest(ActionRequest):
    unit_id: int | None = Field(default=None, description="改交的单位；缺省为原单位（坚持交办）")
    due_date: date | None = None


class AssignmentPublic(BaseModel):
    id: int
    plan_id: int
    plan_title: str
    section_id: int | None
    task_id: int
    task_code: str
    task_title: str
    unit_id: int
    unit_name: str
    role: UnitRole
    period: str
    state: AssignmentState
    due_date: date | None
    due_at: datetime | None
    original_due_date: date | None
    assigned_at: datetime
    accepted_at: datetime | None
    completion_requested_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    percent_done: int
    last_reason: str | None
    extension_count: int
    external_source_id: int | None = Field(description="外部编号所属的服务账号；人员设置的为空")
    external_id: str | None
    overdue_from: date | None = Field(
        default=None, description="交办晚于截止日期时的交办之日：逾期工作日自此计算，此前的时间不催办"
    )
    version: int
    created_at: datetime
    updated_at: datetime
    timezone: str
    overdue: bool = Field(description="未办结且已过截止时间（派生）")
    working_days_overdue: int = Field(description="截止后已结束的工作日数")
    working_days_left: int | None = Field(
        default=None, description="未逾期时距截止日期的剩余工作日数（截止当天为 0；已逾期或已结束为空）"
    )
    warnings: list[CalendarWarning] = Field(
        default_factory=list, description="截止日期或工作日计数落在尚未载入节假日安排的年份时的提示"
    )


class HistoryEntry(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None


class AssignmentDetail(AssignmentPublic):
    allowed_actions: list[str] = Field(description="当前用户此刻可执行的操作")
    history: list[HistoryEntry]


class AssignResult(BaseModel):
    created: list[AssignmentPublic]
    skipped: int = Field(description="已存在而未重复创建的交办数")
    existing: list[AssignmentPublic] = Field(
        default_factory=list, description="按外部编号重复提交时：已有的那一个交办事项（答复 200）"
    )
