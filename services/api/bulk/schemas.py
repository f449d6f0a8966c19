"""Bulk requests of an integration (the OA system): many tasks or assignments in one request."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.task.schemas import TaskFields
from duban.models import UnitRole

MAX_ITEMS = 200
ITEMS_DOC = f"至多 {MAX_ITEMS} 项；每项单独校验、单独成败（见 results），按外部编号幂等"


class BulkTaskItem(TaskFields):
    """One task as PUT …/tasks/by-external-id/{external_id} takes it, with its id inside."""

    external_id: str = Field(min_length=1, max_length=100, description="集成方的任务编号（必填）")
    assign: bool = Field(default=False, description="true：同时交办给任务的责任单位（已交办的单位不重复）")


class BulkAssignmentItem(BaseModel):
    """One assignment as PUT …/assignments/by-external-id/{external_id} takes it."""

    external_id: str = Field(min_length=1, max_length=100, description="集成方的交办事项编号（必填）")
    task_id: int | None = Field(default=None, description="任务 id；或给 task_external_id")
    task_external_id: str | None = Field(
        default=None, max_length=100, description="本服务账号为任务设的外部编号（代替 task_id）"
    )
    unit_id: int
    role: UnitRole | None = None
    due_date: date | None = None
    period: str | None = Field(default=None, max_length=10)


class BulkTasksRequest(BaseModel):
    # Items are validated one by one (a malformed item fails alone, with its index), so the
    # request model takes plain objects; their shape is BulkTaskItem.
    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_ITEMS, description=f"{ITEMS_DOC}；每项的字段见 BulkTaskItem"
    )


class BulkAssignmentsRequest(BaseModel):
    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_ITEMS, description=f"{ITEMS_DOC}；每项的字段见 BulkAssignmentItem"
    )


class BulkItemError(BaseModel):
    code: str
    message: str = Field(description="中文说明，以“第 N 项”开头（N 从 1 数）")
    details: Any = None


class BulkItemResult(BaseModel):
    index: int = Field(description="该项在 items 中的位置（从 0 数）")
    external_id: str | None
    status: Literal["created", "updated", "existing", "failed"]
    id: int | None = None
    version: int | None = None
    assignment_ids: list[int] | None = Field(default=None, description="任务：它的交办事项")
    error: BulkItemError | None = None


class BulkResult(BaseModel):
    created: int
    updated: int
    failed: int
    results: list[BulkItemResult]
