from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from duban.amounts import Amount
from duban.comparators import ComparatorIn as Comparator
from duban.text import Name

Cadence = Literal["once", "annual", "quarterly", "monthly", "weekly"]


class IndicatorCreate(BaseModel):
    plan_id: int
    name: Name = Field(min_length=1, max_length=300)
    target_value: Amount | None = None
    unit: str | None = Field(default=None, max_length=40)
    comparator: Comparator = ">="
    baseline_value: Amount | None = None
    baseline_date: date | None = None
    due_date: date | None = None
    cadence: Cadence = "once"
    source_text: str | None = Field(default=None, max_length=5000)
    task_id: int | None = None
    owner_unit_id: int | None = None


class IndicatorUpdate(BaseModel):
    name: Name | None = Field(default=None, min_length=1, max_length=300)
    target_value: Amount | None = None
    unit: str | None = Field(default=None, max_length=40)
    comparator: Comparator | None = None
    baseline_value: Amount | None = None
    baseline_date: date | None = None
    due_date: date | None = None
    cadence: Cadence | None = None
    source_text: str | None = Field(default=None, max_length=5000)
    task_id: int | None = None
    owner_unit_id: int | None = None


class IndicatorStatusPublic(BaseModel):
    progress: float | None = Field(description="从基期（或零）到目标的完成比例，0–1")
    forecast: float | None = Field(description="按已填报数据线性趋势预测的到期值")
    rag: Literal["green", "yellow", "red"]
    reason: str
    latest_value: float | None


class IndicatorPublic(BaseModel):
    id: int
    plan_id: int
    task_id: int | None
    owner_unit_id: int | None
    name: str
    target_value: float | None
    unit: str | None
    comparator: str
    baseline_value: float | None
    baseline_date: date | None
    due_date: date | None
    cadence: str
    source_text: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    status: IndicatorStatusPublic | None = Field(description="未设目标值时为空")


class ValueCreate(BaseModel):
    period: str = Field(max_length=10, description="2025、2025-Q2、2025-06 或 2025-W23")
    value: Amount


class ValuePublic(BaseModel):
    id: int
    indicator_id: int
    period: str
    period_end: date
    value: float
    unit_id: int | None
    report_id: int | None
    reported_by_id: int | None
    reported_at: datetime
