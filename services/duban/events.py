"""Outgoing event payloads: the outbox and webhook contract, and its versioned catalog.

Every event is an envelope ``{"type", "version", "timestamp", "data"}``; `data` is one of the
models below. The models are strict (``extra="forbid"``): a producer that adds a field the
contract does not declare fails in tests instead of surprising an integrator. The API builds
events from these models; the scanner builds the same payloads in SQL from the models' field
lists (notifier/scan.py), and the fan-out fills the working-day figures through the models too.
Each type's JSON Schema carries a versioned ``$id`` (``urn:duban:event:assignment.overdue:v1``);
it is published in openapi.json under ``webhooks`` and at ``GET /api/v1/events/types``. A change
that is not purely additive and optional bumps `schema_version` of that type.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from duban import links

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ClassVar[str] = "event"
    schema_version: ClassVar[int] = 1
    # People's name of the event type (the catalog and the docs show it).
    label: ClassVar[str] = ""


class Ref(BaseModel):
    """A named thing the event concerns: a plan, task, unit, user or recipient role."""

    model_config = ConfigDict(extra="forbid")
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
    link: str | None = Field(default=None, description="工作台页面路径，如 /app/assignments/42")

    @model_validator(mode="after")
    def _default_link(self) -> AssignmentEventData:
        if self.link is None:
            self.link = links.assignment(self.assignment_id)
        return self


class AssignmentAssigned(AssignmentEventData):
    type: ClassVar[str] = "assignment.assigned"
    label: ClassVar[str] = "新任务交办"
    publication: bool = Field(
        default=False,
        description="随计划发布（交办）产生：单位另收一条汇总的 plan.published 消息，本条只发往 webhook",
    )


class AssignmentAccepted(AssignmentEventData):
    type: ClassVar[str] = "assignment.accepted"
    label: ClassVar[str] = "任务已签收"


class AssignmentReturned(AssignmentEventData):
    type: ClassVar[str] = "assignment.returned"
    label: ClassVar[str] = "任务被退回"


class CompletionRequested(AssignmentEventData):
    type: ClassVar[str] = "completion.requested"
    label: ClassVar[str] = "申请办结"


class AssignmentCompleted(AssignmentEventData):
    type: ClassVar[str] = "assignment.completed"
    label: ClassVar[str] = "任务已办结"


class CompletionRejected(AssignmentEventData):
    type: ClassVar[str] = "completion.rejected"
    label: ClassVar[str] = "办结申请被驳回"


class AssignmentCancelled(AssignmentEventData):
    type: ClassVar[str] = "assignment.cancelled"
    label: ClassVar[str] = "任务已撤销"
    superseded_by: Ref | None = Field(
        default=None, description="因计划新版本发布而撤销时，替代它的新版本计划"
    )
    publication: bool = Field(
        default=False,
        description="随新版本发布撤销，单位已在新版本的 plan.published 汇总消息中获知：本条只发往 webhook",
    )


class ExtensionRequested(AssignmentEventData):
    type: ClassVar[str] = "extension.requested"
    label: ClassVar[str] = "申请延期"
    requested_due_date: date


class ExtensionDecided(AssignmentEventData):
    type: ClassVar[str] = "extension.decided"
    label: ClassVar[str] = "延期申请已处理"
    approved: bool


class _ReportEvent(AssignmentEventData):
    report_id: int
    period: str

    @model_validator(mode="after")
    def _default_link(self) -> _ReportEvent:
        if self.link is None:
            self.link = links.report(self.report_id)
        return self


class ReportSubmitted(_ReportEvent):
    type: ClassVar[str] = "report.submitted"
    label: ClassVar[str] = "进展已报送"


class ReportReviewed(_ReportEvent):
    type: ClassVar[str] = "report.reviewed"
    label: ClassVar[str] = "进展已审核"
    approved: bool


class InstructionIssued(EventData):
    type: ClassVar[str] = "instruction.issued"
    label: ClassVar[str] = "领导批示"
    plan: Ref
    task: Ref
    instruction_id: int
    text: str
    unit_ids: list[int] = []
    link: str | None = None

    @model_validator(mode="after")
    def _default_link(self) -> InstructionIssued:
        if self.link is None:
            self.link = links.instruction(self.instruction_id)
        return self


class InstructionReplied(EventData):
    type: ClassVar[str] = "instruction.replied"
    label: ClassVar[str] = "批示已回复"
    plan: Ref
    task: Ref
    unit: Ref
    instruction_id: int
    reply_id: int
    text: str
    actor: Ref | None = None
    link: str | None = None

    @model_validator(mode="after")
    def _default_link(self) -> InstructionReplied:
        if self.link is None:
            self.link = links.instruction(self.instruction_id)
        return self


class DeadlineNotice(AssignmentEventData):
    """Scanner notices: due soon, overdue, escalations and report reminders.

    The scanner writes them in SQL; the notifier's fan-out fills `due_at` and the working-day
    figures as of the moment the notice was created.
    """

    level: int | None = None
    recipient: Ref
    due_at: datetime | None = None
    working_days_overdue: int = 0
    working_days_left: int | None = None
    overdue_from: date | None = Field(
        default=None, description="逾期起算日：交办晚于截止日期时为交办之日，逾期工作日自此计算"
    )
    calendar_uncovered_years: list[int] | None = Field(
        default=None, description="计算所依据的年份中尚未载入节假日安排的年份（此时按周末推算）"
    )


class AssignmentDueSoon(DeadlineNotice):
    type: ClassVar[str] = "assignment.due_soon"
    label: ClassVar[str] = "临期提醒"
    days_before: int = Field(description="触发本提醒的提前工作日数（策略中的 7、3、1 等）")


class AssignmentOverdue(DeadlineNotice):
    type: ClassVar[str] = "assignment.overdue"
    label: ClassVar[str] = "逾期提醒"


class AssignmentEscalated(DeadlineNotice):
    type: ClassVar[str] = "assignment.escalated"
    label: ClassVar[str] = "督办升级"
    threshold_working_days: int = Field(description="本级升级的逾期工作日门槛")


class _ReportNotice(DeadlineNotice):
    period: str
    report_due_date: date


class ReportDueSoon(_ReportNotice):
    type: ClassVar[str] = "report.due_soon"
    label: ClassVar[str] = "填报提醒"


class ReportMissing(_ReportNotice):
    type: ClassVar[str] = "report.missing"
    label: ClassVar[str] = "缺报提醒"


class DigestDaily(EventData):
    type: ClassVar[str] = "digest.daily"
    label: ClassVar[str] = "每日督办摘要"
    date: date
    recipient: Ref
    open: int
    overdue: int
    due_soon: int
    due_soon_days: int = Field(default=7, description="“临期”所指的工作日数（通知策略中最长的提前量）")
    units: int | None = Field(default=None, description="涉及单位数（仅发给办公室的汇总）")
    link: str = Field(default_factory=links.assignments)


class NoticeDigest(EventData):
    """Many notices of one kind for one unit in one full pass (a first scan, a bulk import, a new
    policy): one message naming the assignments instead of one message each. Below the policy's
    `digest_min_items` the pass writes the notices one by one, as always."""

    type: ClassVar[str] = "notice.digest"
    label: ClassVar[str] = "督办提醒汇总"
    item_type: str = Field(description="所汇总提醒的事件类型，如 assignment.overdue")
    stage: str = Field(description="提醒的档次：7wd（提前工作日数）、due、L1（升级级别）、report-2025-06 等")
    level: int | None = Field(default=None, description="督办升级的级别（仅升级提醒）")
    recipient: Ref
    unit: Ref
    count: int = Field(description="所汇总的交办事项数")
    assignment_ids: list[int] = Field(description="所汇总的交办事项编号")
    cutoff: date | None = Field(
        default=None, description="本次扫描该档次的截止日期界限：截止日期不晚于此日的事项已计入"
    )
    link: str = Field(default_factory=links.assignments)


class BulletinPublished(EventData):
    type: ClassVar[str] = "bulletin.published"
    label: ClassVar[str] = "通报已发布"
    plan: Ref
    bulletin_id: int
    title: str
    period_kind: str
    period_start: date
    period_end: date
    version: int = Field(description="通报的版本号（同一期重新生成时递增），不是事件模式的版本")
    link: str | None = None

    @model_validator(mode="after")
    def _default_link(self) -> BulletinPublished:
        if self.link is None:
            self.link = links.bulletin(self.bulletin_id)
        return self


class PublishedItem(BaseModel):
    """One assignment in a unit's publication message."""

    model_config = ConfigDict(extra="forbid")
    assignment_id: int
    task: Ref
    role: str
    period: str = ""
    due_date: date | None = None
    past_due: bool = Field(default=False, description="发布时截止日期已过")


class PlanPublished(EventData):
    """A plan published (交办): one message per unit, listing that unit's new assignments."""

    type: ClassVar[str] = "plan.published"
    label: ClassVar[str] = "计划交办"
    plan: Ref
    unit: Ref
    items: list[PublishedItem]
    total: int = Field(description="本单位新交办事项数（items 最多列出前 200 项）")
    past_due: int = Field(default=0, description="其中发布时截止日期已过的事项数")
    supersedes: Ref | None = Field(default=None, description="本计划替代的旧版本计划")
    withdrawn: int = Field(default=0, description="旧版本中本单位随之撤销的未办结事项数")
    actor: Ref | None = None
    link: str = Field(default_factory=links.assignments)


class DeliveryFailed(EventData):
    type: ClassVar[str] = "delivery.failed"
    label: ClassVar[str] = "投递失败"
    delivery_id: int
    event_type: str
    channel: str
    error: str | None = None
    link: str | None = None

    @model_validator(mode="after")
    def _default_link(self) -> DeliveryFailed:
        if self.link is None:
            self.link = links.delivery(self.delivery_id)
        return self


class WebhookPing(EventData):
    """A test message the office sends to one endpoint (POST /webhooks/{id}/ping); no one else gets it."""

    type: ClassVar[str] = "webhook.ping"
    label: ClassVar[str] = "测试消息"
    endpoint_id: int
    text: str = "督办系统回调测试"


class WebhookDisabled(EventData):
    """An endpoint was disabled: every delivery failed for the set window, or it answered 410 Gone.
    Told to the office (inbox and e-mail), never to endpoints."""

    type: ClassVar[str] = "webhook.disabled"
    label: ClassVar[str] = "回调地址已停用"
    endpoint_id: int
    url: str
    reason: str
    failing_since: datetime | None = None
    link: str | None = None

    @model_validator(mode="after")
    def _default_link(self) -> WebhookDisabled:
        if self.link is None:
            self.link = links.page("deliveries")
        return self


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
        NoticeDigest,
        BulletinPublished,
        PlanPublished,
        DeliveryFailed,
        WebhookPing,
        WebhookDisabled,
    )
}


class UnknownEventType(ValueError):
    pass


def model_for(event_type: str) -> type[EventData]:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"event type {event_type!r} is not in the catalog") from None


def schema_id(event_type: str) -> str:
    return f"urn:duban:event:{event_type}:v{model_for(event_type).schema_version}"


@cache
def envelope(event_type: str) -> type[BaseModel]:
    """The webhook body model of one type: {"type", "version", "timestamp", "data"}."""
    model = model_for(event_type)
    name = "".join(p.capitalize() for p in event_type.replace(".", "_").split("_")) + "Webhook"
    fields: dict[str, Any] = {
        "type": (Literal[event_type], ...),
        "version": (Literal[model.schema_version], ...),
        "timestamp": (datetime, ...),
        "data": (model, ...),
    }
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid", json_schema_extra={"$id": schema_id(event_type)}),
        **fields,
    )


def envelope_of(event: EventData, *, now: datetime) -> dict[str, Any]:
    """The JSON payload of an event, checked against its published model on the way out."""
    model = model_for(event.type)
    if type(event) is not model:
        raise UnknownEventType(f"{type(event).__name__} is not the catalog model of {event.type!r}")
    payload = {
        "type": event.type,
        "version": model.schema_version,
        "timestamp": now.isoformat(),
        "data": event.model_dump(mode="json"),
    }
    validate(payload)
    return payload


def validate(payload: dict[str, Any]) -> BaseModel:
    """Validate a stored or received payload against its type's envelope (ValidationError if not)."""
    return envelope(str(payload.get("type"))).model_validate(payload)


@cache
def json_schema(event_type: str) -> dict[str, Any]:
    """The published JSON Schema (2020-12) of one event type's webhook body."""
    schema = envelope(event_type).model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_id(event_type), **schema}


def catalog() -> list[dict[str, Any]]:
    return [
        {
            "type": t,
            "version": m.schema_version,
            "title": m.label,
            "description": (m.__doc__ or "").strip() or None,
            "schema_id": schema_id(t),
            "schema": json_schema(t),
        }
        for t, m in sorted(EVENT_TYPES.items())
    ]
