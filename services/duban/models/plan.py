from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from duban.models._base import (
    Versioned,
    external_id_field,
    external_id_keys,
    external_source_field,
    json_field,
    str_enum,
)
from duban.zones import installation_zone_name


class Recurrence(StrEnum):
    annual = "annual"
    quarterly = "quarterly"
    monthly = "monthly"


class ReportCadence(StrEnum):
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"


class PlanState(StrEnum):
    # An imported plan is a draft the office reviews; publishing (交办) creates its assignments.
    draft = "draft"
    published = "published"
    # Replaced by a later version once that version was published; kept read-only as history.
    superseded = "superseded"


class UnitRole(StrEnum):
    lead = "lead"
    co = "co"
    implementing = "implementing"


class PlanBase(SQLModel):
    title: str = Field(max_length=300)
    doc_no: str | None = Field(default=None, max_length=100)
    issuer: str | None = Field(default=None, max_length=200)
    issued_on: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    # The installation's zone unless the plan names its own (duban.zones).
    timezone: str = Field(default_factory=installation_zone_name, max_length=64)
    report_cadence: ReportCadence = str_enum(ReportCadence, default=ReportCadence.monthly)
    # Day of the month (or of the last month of the quarter) a periodic report is due.
    report_due_day: int = Field(default=25, ge=1, le=28)


class Plan(PlanBase, Versioned, table=True):
    __tablename__ = "plan"
    __table_args__ = external_id_keys("plan")
    id: int | None = Field(default=None, primary_key=True)
    external_source_id: int | None = external_source_field()
    external_id: str | None = external_id_field()
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    state: PlanState = str_enum(PlanState, default=PlanState.published)
    published_at: datetime | None = None
    # A re-issued document (same 文号) imported as a new version of an earlier plan.
    supersedes_id: int | None = Field(default=None, foreign_key="plan.id", ondelete="SET NULL")


class SectionBase(SQLModel):
    code: str = Field(max_length=20)
    title: str = Field(max_length=300)
    position: int = Field(default=0)


class Section(SectionBase, Versioned, table=True):
    __tablename__ = "plan_section"
    __table_args__ = (sa.UniqueConstraint("plan_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")


class TaskBase(SQLModel):
    code: str = Field(max_length=20)
    title: str = Field(max_length=500)
    description: str | None = None
    due_date: date | None = None
    recurrence: Recurrence | None = str_enum(Recurrence, default=None, nullable=True)
    tags: list[str] = json_field(default_factory=list)
    position: int = Field(default=0)


class Task(TaskBase, Versioned, table=True):
    __tablename__ = "task"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "code"),
        # A new task goes after the plan's last: max(position) is one index probe, not a read of
        # every task of the plan.
        sa.Index("ix_task_plan_id_position", "plan_id", "position"),
        *external_id_keys("task"),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    section_id: int | None = Field(
        default=None, foreign_key="plan_section.id", index=True, ondelete="CASCADE"
    )
    # Subtasks (任务分解方案 1.2) point at their parent task.
    parent_id: int | None = Field(default=None, foreign_key="task.id", index=True, ondelete="CASCADE")
    external_source_id: int | None = external_source_field()
    external_id: str | None = external_id_field()


class TaskUnit(SQLModel, table=True):
    """A unit or unit group named responsible for a task, in the order the document lists them."""

    __tablename__ = "task_unit"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True, ondelete="CASCADE")
    role: UnitRole = str_enum(UnitRole)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="CASCADE")
    group_id: int | None = Field(default=None, foreign_key="unit_group.id", index=True, ondelete="CASCADE")
    # A phrase kept as written when it names no unit (各有关单位).
    label: str | None = Field(default=None, max_length=100)
    position: int = Field(default=0)


class TargetBase(SQLModel):
    text: str
    value: float | None = None
    unit: str | None = Field(default=None, max_length=40)
    comparator: str | None = Field(default=None, max_length=4)
    due_date: date | None = None
    cadence: str | None = Field(default=None, max_length=20)


class Target(TargetBase, table=True):
    __tablename__ = "task_target"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True, ondelete="CASCADE")


class IndicatorBase(SQLModel):
    name: str = Field(max_length=300)
    target_value: float | None = None
    unit: str | None = Field(default=None, max_length=40)
    comparator: str = Field(default=">=", max_length=4)
    baseline_value: float | None = None
    baseline_date: date | None = None
    due_date: date | None = None
    cadence: str = Field(default="once", max_length=20)
    source_text: str | None = None


class Indicator(IndicatorBase, Versioned, table=True):
    __tablename__ = "indicator"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    task_id: int | None = Field(default=None, foreign_key="task.id", index=True, ondelete="SET NULL")
    owner_unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="SET NULL")


class IndicatorValue(SQLModel, table=True):
    __tablename__ = "indicator_value"
    __table_args__ = (sa.UniqueConstraint("indicator_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True, ondelete="CASCADE")
    period: str = Field(max_length=10)
    period_end: date
    value: float
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="SET NULL")
    report_id: int | None = Field(default=None, foreign_key="progress_report.id", ondelete="SET NULL")
    reported_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    reported_at: datetime
