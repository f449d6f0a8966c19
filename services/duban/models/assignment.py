from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from duban.models._base import (
    Versioned,
    external_id_field,
    external_id_keys,
    external_source_field,
    json_field,
    str_enum,
    utcnow,
)
from duban.models.plan import UnitRole


class AssignmentState(StrEnum):
    assigned = "assigned"
    accepted = "accepted"
    returned = "returned"
    completion_requested = "completion_requested"
    completed = "completed"
    cancelled = "cancelled"


OPEN_STATES = frozenset(
    {
        AssignmentState.assigned,
        AssignmentState.accepted,
        AssignmentState.returned,
        AssignmentState.completion_requested,
    }
)


class Assignment(Versioned, table=True):
    __tablename__ = "assignment"
    __table_args__ = (
        sa.UniqueConstraint("task_id", "unit_id", "period"),
        # The unit's work list and the scanner both filter on state and deadline.
        sa.Index("ix_assignment_unit_id_state_due_date", "unit_id", "state", "due_date"),
        # The scanner's reads are index-only scans of it (migration 0017: what it includes).
        sa.Index(
            "ix_assignment_state_due_date",
            "state",
            "due_date",
            postgresql_include=["id", "unit_id", "plan_id", "overdue_from", "assigned_at"],
        ),
        sa.Index("ix_assignment_plan_id_state", "plan_id", "state"),
        # The default list order (undated last), so a page is an index range, not a sort.
        sa.Index("ix_assignment_due_sort", sa.text("coalesce(due_date, '9999-12-31')"), "id"),
        *external_id_keys("assignment"),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE")
    section_id: int | None = Field(
        default=None, foreign_key="plan_section.id", index=True, ondelete="CASCADE"
    )
    task_id: int = Field(foreign_key="task.id", index=True, ondelete="CASCADE")
    # Units with assignments are deactivated, never deleted: their history must stay.
    unit_id: int = Field(foreign_key="unit.id", ondelete="RESTRICT")
    role: UnitRole = str_enum(UnitRole)
    # "" for a one-off task; "2025", "2025-Q2" or "2025-06" for one period of a recurring task.
    period: str = Field(default="", max_length=10)
    state: AssignmentState = str_enum(AssignmentState, default=AssignmentState.assigned)
    # The effective local due date (already moved to a working day) and its end as an instant.
    due_date: date | None = None
    due_at: datetime | None = None
    original_due_date: date | None = None
    assigned_at: datetime = Field(default_factory=utcnow)
    accepted_at: datetime | None = None
    completion_requested_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    percent_done: int = Field(default=0, ge=0, le=100)
    last_reason: str | None = None
    extension_count: int = Field(default=0)
    external_source_id: int | None = external_source_field()
    external_id: str | None = external_id_field()
    # The local day the assignment was made, kept only when that was after its due date (a plan
    # published late): overdue time is counted from here, never for time before the unit knew.
    overdue_from: date | None = Field(default=None, index=True)


class StatsGeneration(SQLModel, table=True):
    """How often the figures' inputs of a plan changed: kept by database triggers (the migrations
    0014_stats_generation and 0015_plan_generation), never written by the application.

    Any insert, delete or update of what the figures read (api.stats.service) on an assignment,
    and any write of its progress reports' state or period, adds to one of the plan's rows in the
    writer's transaction, so `sum(generation)` over a plan moves with every committed change and
    with nothing else: the check of the stats cache (api.stats.cache), in the same statement as
    the figures or their lookup. A few rows per plan (`slot`): on PostgreSQL a transaction adds 1
    once per plan, to a row no other transaction holds (`FOR UPDATE SKIP LOCKED`) or to a new one,
    so a bump never waits and writers of one plan do not serialize on it; SQLite has one row per
    plan. Rows are never deleted, so the sum never goes back.
    """

    __tablename__ = "stats_plan_generation"
    plan_id: int = Field(primary_key=True)
    slot: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True))
    generation: int = Field(default=1)


class ProgressReportState(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"


# A period's report counts as in once submitted (approval pending) or approved: what the report
# reminders, the statistics and the list's `report_missing` filter all count.
REPORT_IN_STATES = (ProgressReportState.submitted, ProgressReportState.approved)


class ProgressReport(Versioned, table=True):
    __tablename__ = "progress_report"
    __table_args__ = (
        sa.UniqueConstraint("assignment_id", "period"),
        sa.Index("ix_progress_report_unit_id_state", "unit_id", "state"),
        # A period's submitted reports as an index range (the scanner's report reminders).
        sa.Index("ix_progress_report_period_state", "period", "state", "assignment_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # Looked up through the unique (assignment_id, period) key: no index of its own.
    assignment_id: int = Field(foreign_key="assignment.id", ondelete="CASCADE")
    unit_id: int = Field(foreign_key="unit.id", ondelete="CASCADE")
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    period: str = Field(max_length=10)
    period_due_date: date | None = None
    text: str = Field(default="")
    percent_done: int = Field(default=0, ge=0, le=100)
    state: ProgressReportState = str_enum(ProgressReportState, default=ProgressReportState.draft)
    author_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    submitted_at: datetime | None = None
    reviewed_at: datetime | None = None
    reviewer_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    review_comment: str | None = None
    # [{"indicator_id": 1, "value": 12.5}]: held here while the report is drafted and reviewed;
    # approval writes them as IndicatorValue rows for the report's period.
    indicator_values: list[dict[str, Any]] = json_field(default_factory=list)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"
    __table_args__ = (sa.Index("ix_attachment_owner", "owner_type", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    owner_type: str = Field(max_length=30)
    owner_id: int
    # Denormalised so attachment reads are scoped in SQL like everything else.
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=255, unique=True)
    uploaded_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class RequestState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class ExtensionRequest(Versioned, table=True):
    __tablename__ = "extension_request"
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True, ondelete="CASCADE")
    unit_id: int = Field(foreign_key="unit.id", index=True, ondelete="CASCADE")
    requested_due_date: date
    previous_due_date: date | None = None
    reason: str
    state: RequestState = str_enum(RequestState, default=RequestState.pending)
    requested_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    decided_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    decided_at: datetime | None = None
    decision_comment: str | None = None


class Instruction(Versioned, table=True):
    """批示: a leader's comment on a task (every unit answers) or on one assignment."""

    __tablename__ = "instruction"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True, ondelete="CASCADE")
    assignment_id: int | None = Field(
        default=None, foreign_key="assignment.id", index=True, ondelete="CASCADE"
    )
    author_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    text: str
    reply_due_date: date | None = None


class InstructionReply(SQLModel, table=True):
    __tablename__ = "instruction_reply"
    id: int | None = Field(default=None, primary_key=True)
    instruction_id: int = Field(foreign_key="instruction.id", index=True, ondelete="CASCADE")
    unit_id: int = Field(foreign_key="unit.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    text: str
    created_at: datetime = Field(default_factory=utcnow)


class Comment(SQLModel, table=True):
    __tablename__ = "comment"
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True, ondelete="CASCADE")
    unit_id: int = Field(foreign_key="unit.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    text: str
    created_at: datetime = Field(default_factory=utcnow)
    meta: dict[str, str] = json_field(default_factory=dict)


def overdue_basis(table: Any) -> Any:
    """SQL: the day overdue time counts from — the later of the due date and `overdue_from`."""
    return sa.case((table.c.overdue_from > table.c.due_date, table.c.overdue_from), else_=table.c.due_date)


def overdue_basis_of(due_date: date | None, overdue_from: date | None) -> date | None:
    """Python twin of `overdue_basis`, for one row."""
    if due_date is None or overdue_from is None:
        return due_date
    return max(due_date, overdue_from)
