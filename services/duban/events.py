"""Outgoing event payloads: the outbox and webhook contract (documented in openapi.json)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: ClassVar[str] = "event"


class Ref(BaseModel):
    id: int | None = None
    name: str | None = None
    code: str | None = None


class AssignmentEventData(EventData):
    plan: Ref
    task: Ref
    unit: Ref
    assignment_id: int
    state: str
    due_date: date | None = None
    actor: Ref | None = None
    reason: str | None = None
    link: str | None = None


class AssignmentAssigned(AssignmentEventData):
    type: ClassVar[str] = "assignment.assigned"


class AssignmentAccepted(AssignmentEventData):
    type: ClassVar[str] = "assignment.accepted"


class AssignmentReturned(AssignmentEventData):
    type: ClassVar[str] = "assignment.returned"


class CompletionRequested(AssignmentEventData):
    type: ClassVar[str] = "completion.requested"


class AssignmentCompleted(AssignmentEventData):
    type: ClassVar[str] = "assignment.completed"


class CompletionRejected(AssignmentEventData):
    type: ClassVar[str] = "completion.rejected"


class AssignmentCancelled(AssignmentEventData):
    type: ClassVar[str] = "assignment.cancelled"


class ExtensionRequested(AssignmentEventData):
    type: ClassVar[str] = "extension.requested"
    requested_due_date: date


class ExtensionDecided(AssignmentEventData):
    type: ClassVar[str] = "extension.decided"
    approved: bool


class ReportSubmitted(AssignmentEventData):
    type: ClassVar[str] = "report.submitted"
    report_id: int
    period: str


class ReportReviewed(AssignmentEventData):
    type: ClassVar[str] = "report.reviewed"
    report_id: int
    period: str
    approved: bool


class InstructionIssued(EventData):
    type: ClassVar[str] = "instruction.issued"
    plan: Ref
    task: Ref
    instruction_id: int
    text: str
    unit_ids: list[int] = []


class InstructionReplied(EventData):
    type: ClassVar[str] = "instruction.replied"
    plan: Ref
    task: Ref
    unit: Ref
    instruction_id: int
    reply_id: int
    text: str
    actor: Ref | None = None


class DeadlineNotice(AssignmentEventData):
    """Scanner notices: due soon, overdue and escalations."""

    due_at: datetime | None = None
    working_days_overdue: int = 0
    working_days_left: int | None = None
    level: int | None = None
    recipient: Ref | None = None


class AssignmentDueSoon(DeadlineNotice):
    type: ClassVar[str] = "assignment.due_soon"


class AssignmentOverdue(DeadlineNotice):
    type: ClassVar[str] = "assignment.overdue"


class AssignmentEscalated(DeadlineNotice):
    type: ClassVar[str] = "assignment.escalated"


class ReportDueSoon(DeadlineNotice):
    type: ClassVar[str] = "report.due_soon"
    period: str


class ReportMissing(DeadlineNotice):
    type: ClassVar[str] = "report.missing"
    period: str


class DigestDaily(EventData):
    type: ClassVar[str] = "digest.daily"
    date: date
    recipient: Ref
    items: list[dict[str, Any]] = []


class BulletinPublished(EventData):
    type: ClassVar[str] = "bulletin.published"
    plan: Ref
    bulletin_id: int
    title: str
    period_kind: str
    period_start: date
    period_end: date
    version: int
    link: str | None = None


class DeliveryFailed(EventData):
    type: ClassVar[str] = "delivery.failed"
    delivery_id: int
    event_type: str
    channel: str
    error: str | None = None


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.type: cls
    for cls in (
        AssignmentAssigned,
        AssignmentAccepted,
        AssignmentReturned,
        CompletionRequested,
        AssignmentCompleted,
        CompletionRejected,
        AssignmentCancelled,
        ExtensionRequested,
        ExtensionDecided,
        ReportSubmitted,
        ReportReviewed,
        InstructionIssued,
        InstructionReplied,
        AssignmentDueSoon,
        AssignmentOverdue,
        AssignmentEscalated,
        ReportDueSoon,
        ReportMissing,
        DigestDaily,
        BulletinPublished,
        DeliveryFailed,
    )
}
