"""Every table, imported here so that SQLModel.metadata is complete for Alembic and tests."""

from duban.models.assignment import (
    OPEN_STATES,
    Assignment,
    AssignmentState,
    Attachment,
    Comment,
    ExtensionRequest,
    Instruction,
    InstructionReply,
    ProgressReport,
    ProgressReportState,
    RequestState,
)
from duban.models.audit import AuditEntry
from duban.models.outbox import (
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointKind,
    Notification,
    NotificationPolicy,
    OutboxEvent,
    ScanRun,
    WebhookEndpoint,
)
from duban.models.plan import (
    Indicator,
    IndicatorBase,
    IndicatorValue,
    Plan,
    PlanBase,
    Recurrence,
    ReportCadence,
    Section,
    SectionBase,
    Target,
    TargetBase,
    Task,
    TaskBase,
    TaskUnit,
    UnitRole,
)
from duban.models.supervision import Assessment, AssessmentScore, Bulletin, BoardToken, ScoringRule
from duban.models.unit import Unit, UnitAlias, UnitBase, UnitGroup, UnitGroupBase, UnitGroupMember, UnitKind
from duban.models.user import (
    READ_ALL_ROLES,
    ApiKey,
    IdempotencyRecord,
    LoginAttempt,
    RefreshToken,
    Role,
    User,
    UserBase,
)

__all__ = [
    "OPEN_STATES", "READ_ALL_ROLES", "ApiKey", "Assessment", "AssessmentScore", "Assignment",
    "AssignmentState", "Attachment", "AuditEntry", "BoardToken", "Bulletin", "ChannelKind", "Comment",
    "Delivery", "DeliveryAttempt", "DeliveryStatus", "EndpointKind", "ExtensionRequest",
    "IdempotencyRecord", "Indicator", "IndicatorBase", "IndicatorValue", "Instruction",
    "InstructionReply", "LoginAttempt", "Notification", "NotificationPolicy", "OutboxEvent", "Plan",
    "PlanBase", "ProgressReport", "ProgressReportState", "Recurrence", "RefreshToken", "ReportCadence",
    "RequestState", "Role", "ScanRun", "ScoringRule", "Section", "SectionBase", "Target", "TargetBase",
    "Task", "TaskBase", "TaskUnit", "Unit", "UnitAlias", "UnitBase", "UnitGroup", "UnitGroupBase",
    "UnitGroupMember", "UnitKind", "UnitRole", "User", "UserBase",
]
