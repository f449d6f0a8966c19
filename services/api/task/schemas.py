from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from api.external import EXTERNAL_ID_DOC
from api.plan.schemas import Status
from duban.amounts import Amount
from duban.comparators import ComparatorIn
from duban.models import Recurrence, TargetBase, TaskBase, UnitRole
from duban.text import Name


class TaskUnitIn(BaseModel):
    role: UnitRole
    unit_id: int | None = None
    group_id: int | None = Field(default=None, description="单位组，如“各镇街”，交办时展开")
    label: str | None = Field(default=None, max_length=100, description="不对应具体单位的原文表述")

    @model_validator(mode="after")
    def _one_target(self) -> TaskUnitIn:
        if self.unit_id is not None and self.group_id is not None:
            raise ValueError("单位与单位组只能填一个")
        if self.unit_id is None and self.group_id is None and not (self.label or "").strip():
            raise ValueError("须填写单位、单位组或原文表述之一")
        return self


class TaskUnitPublic(BaseModel):
    role: UnitRole
    unit_id: int | None
    unit_name: str | None
    group_id: int | None
    group_name: str | None
    label: str | None
    position: int


class TargetIn(TargetBase):
    text: str = Field(min_length=1, max_length=2000)
    value: Amount | None = None
    comparator: ComparatorIn | None = None


class TargetPublic(TargetBase):
    id: int


class TaskFields(BaseModel):
    plan_id: int
    section_id: int | None = None
    parent_id: int | None = Field(default=None, description="上级任务（子任务时填写）")
    code: Name = Field(min_length=1, max_length=20, description="文件中的编号，如“1”“1.2”")
    title: Name = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    due_date: date | None = None
    recurrence: Recurrence | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    position: int | None = Field(default=None, ge=0)
    units: list[TaskUnitIn] = Field(
        default_factory=list, max_length=200, description="按文件顺序：牵头、配合、落实（各镇街）"
    )
    targets: list[TargetIn] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _tags(self) -> TaskFields:
        _check_tags(self.tags)
        return self


class TaskCreate(TaskFields):
    external_id: str | None = Field(default=None, max_length=100, description=EXTERNAL_ID_DOC)
    assign: bool = Field(
        default=False, description="true：创建后在同一事务中交办给任务的责任单位（计划须已发布）"
    )


class TaskPut(TaskFields):
    """The whole task, as PUT by an integration under its external id."""


class TaskUpdate(BaseModel):
    section_id: int | None = None
    parent_id: int | None = None
    code: Name | None = Field(default=None, min_length=1, max_length=20)
    title: Name | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    due_date: date | None = None
    recurrence: Recurrence | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    position: int | None = Field(default=None, ge=0)
    units: list[TaskUnitIn] | None = Field(default=None, max_length=200, description="给出时整体替换")
    targets: list[TargetIn] | None = Field(default=None, max_length=100, description="给出时整体替换")

    @model_validator(mode="after")
    def _tags(self) -> TaskUpdate:
        _check_tags(self.tags or [])
        return self


def _check_tags(tags: list[str]) -> None:
    for tag in tags:
        if not tag.strip() or len(tag) > 50:
            raise ValueError("标签须为1到50个字符")


class TaskPublic(TaskBase):
    id: int
    plan_id: int
    section_id: int | None
    parent_id: int | None
    external_id: str | None
    external_source_id: int | None = Field(description="外部编号所属的服务账号；人员设置的为空")
    version: int
    created_at: datetime
    updated_at: datetime
    units: list[TaskUnitPublic]
    targets: list[TargetPublic]
    status: Status
