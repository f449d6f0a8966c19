from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from duban.models._base import Versioned, json_field, str_enum, utcnow

DIGESTS = sa.text("type = 'notice.digest'")


class OutboxEvent(SQLModel, table=True):
    """Something that happened and must be told. Written in the transaction that caused it."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        sa.Index("ix_outbox_event_fanned_out_at_id", "fanned_out_at", "id"),
        # The scanner's look-ups of earlier digests (notifier/scan.py): a unit's, by key prefix.
        sa.Index(
            "ix_outbox_event_digest_unit_key",
            "unit_id",
            "dedupe_key",
            postgresql_ops={"dedupe_key": "text_pattern_ops"},
            postgresql_where=DIGESTS,
            sqlite_where=DIGESTS,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    # Stable message id (webhook-id), also the receivers' de-duplication key.
    message_id: str = Field(max_length=64, unique=True)
    type: str = Field(max_length=64, index=True)
    # Unique: scanning twice, or on two replicas, creates each notice once.
    dedupe_key: str = Field(max_length=255, unique=True)
    payload: dict[str, Any] = json_field(default_factory=dict)
    plan_id: int | None = Field(default=None, index=True)
    assignment_id: int | None = Field(default=None, index=True)
    unit_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    # Set once the notifier has expanded the event into deliveries.
    fanned_out_at: datetime | None = None
    # Addressed to one endpoint only (a test ping): no inbox, no e-mail, no other endpoint.
    endpoint_id: int | None = Field(default=None, foreign_key="webhook_endpoint.id", ondelete="CASCADE")


class DeliveryStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"  # dead-lettered after the last attempt
    skipped = "skipped"


class ChannelKind(StrEnum):
    webhook = "webhook"
    email = "email"
    dingtalk = "dingtalk"
    wecom = "wecom"
    inbox = "inbox"


class Delivery(SQLModel, table=True):
    __tablename__ = "delivery"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "channel", "target"),
        sa.Index("ix_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        # Per endpoint and assignment, deliveries go out in event order (notifier/claim.py).
        sa.Index("ix_delivery_endpoint_id_assignment_id", "endpoint_id", "assignment_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="outbox_event.id", index=True, ondelete="CASCADE")
    channel: ChannelKind = str_enum(ChannelKind)
    # Channel-specific address: "endpoint:12", "user:7", an e-mail address.
    target: str = Field(max_length=255)
    recipient_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    endpoint_id: int | None = Field(default=None, foreign_key="webhook_endpoint.id", ondelete="CASCADE")
    status: DeliveryStatus = str_enum(DeliveryStatus, default=DeliveryStatus.pending)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # The event's assignment, copied for endpoint deliveries: the ordering key per endpoint.
    assignment_id: int | None = None


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True, ondelete="CASCADE")
    attempt: int
    started_at: datetime
    duration_ms: int
    succeeded: bool
    status_code: int | None = None
    response_excerpt: str | None = Field(default=None, max_length=2048)
    error: str | None = Field(default=None, max_length=2000)
    # The delivery log: what was sent (body truncated to 4 KiB) and the answer's headers.
    url: str | None = Field(default=None, max_length=1000)
    request_headers: dict[str, str] | None = Field(default=None, sa_type=sa.JSON)
    request_body: str | None = Field(default=None, max_length=4096)
    response_headers: dict[str, str] | None = Field(default=None, sa_type=sa.JSON)


class Notification(SQLModel, table=True):
    """The in-app inbox."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "event_id"),
        sa.Index("ix_notification_user_id_read_at", "user_id", "read_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    event_id: int = Field(foreign_key="outbox_event.id", index=True, ondelete="CASCADE")
    type: str = Field(max_length=64)
    title: str = Field(max_length=300)
    body: str
    link: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None


class EndpointKind(StrEnum):
    webhook = "webhook"
    dingtalk = "dingtalk"
    wecom = "wecom"


class WebhookEndpoint(Versioned, table=True):
    __tablename__ = "webhook_endpoint"
    id: int | None = Field(default=None, primary_key=True)
    kind: EndpointKind = str_enum(EndpointKind, default=EndpointKind.webhook)
    url: str = Field(max_length=1000)
    description: str | None = Field(default=None, max_length=300)
    # Signing secret (whsec_… for webhooks, SEC… for DingTalk). It must be usable to sign,
    # so it is kept, and shown only once on creation.
    secret: str | None = Field(default=None, max_length=200)
    event_types: list[str] = json_field(default_factory=list)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="CASCADE")
    plan_id: int | None = Field(default=None, foreign_key="plan.id", index=True, ondelete="CASCADE")
    is_active: bool = Field(default=True)
    # 0: no limit (webhooks, unless the office sets one); chat robots keep the platforms' 20.
    rate_limit_per_minute: int = Field(default=0)
    # Secret rotation: the previous secret signs a second signature until it expires.
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = None
    # Since when every attempt has failed (cleared by a success); past the window: disabled.
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = Field(default=None, max_length=300)
    # The cross-replica rate limit: the earliest time the next message may go (one atomic UPDATE).
    next_send_at: datetime | None = None


class NotificationPolicy(Versioned, table=True):
    """Per-plan reminder and escalation policy; plan_id NULL holds the office-wide default."""

    __tablename__ = "notification_policy"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int | None = Field(default=None, foreign_key="plan.id", unique=True, ondelete="CASCADE")
    config: dict[str, Any] = json_field(default_factory=dict)


class ScanRun(SQLModel, table=True):
    __tablename__ = "scan_run"
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime
    as_of: datetime
    duration_ms: int
    created: int
    # "full" or "incremental" (NULL before incremental scans existed: the next pass is full), and
    # the digest of what every cutoff depends on (policies, plans' cadence and zone, calendar):
    # an incremental pass needs the previous pass to have had the same.
    mode: str | None = Field(default=None, max_length=12)
    fingerprint: str | None = Field(default=None, max_length=64)


class NoticeChange(SQLModel, table=True):
    """A change reminders depend on, for the scanner's next incremental pass (notifier/scan.py).

    Database triggers append one row, in the writer's transaction, whenever an assignment is
    inserted or what its notices depend on changes (due date, state, overdue_from, plan, unit,
    assignment time; its progress reports), whoever writes. A pass claims the rows committed
    before it (`claim` = its scan run) and deletes them when it commits. Writers only ever insert,
    so they never wait on a scan's locks, and the scanner never rewrites the wide assignment rows.
    No foreign key: a row of a deleted assignment is harmless, and an insert takes no lock on it.
    The application never writes it.
    """

    __tablename__ = "notice_change"
    # A pass's claimed rows by index (the join to its assignments, the delete when it ends).
    __table_args__ = (sa.Index("ix_notice_change_claim_assignment_id", "claim", "assignment_id"),)
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int
    claim: int | None = None
