from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class NotificationPublic(BaseModel):
    id: int
    event_id: int
    type: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    updated: int


class PolicyPublic(BaseModel):
    plan_id: int | None = Field(description="计划编号；为空表示全局默认策略")
    config: dict[str, Any] = Field(description="生效的完整策略（默认值叠加覆盖项）")
    override: dict[str, Any] = Field(description="本计划保存的覆盖项")
    version: int


class DeliveryAttemptPublic(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    succeeded: bool
    status_code: int | None
    error: str | None
    response_excerpt: str | None


class DeliveryPublic(BaseModel):
    id: int
    event_id: int
    message_id: str
    event_type: str
    channel: str
    target: str
    endpoint_id: int | None
    recipient_user_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class DeliveryDetail(DeliveryPublic):
    history: list[DeliveryAttemptPublic]
