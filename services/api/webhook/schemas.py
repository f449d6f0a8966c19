from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from duban.events import EVENT_TYPES
from duban.models import EndpointKind


def _check_event_types(value: list[str]) -> list[str]:
    bad = [
        t
        for t in value
        if t != "*"
        and t not in EVENT_TYPES
        and not (t.endswith(".*") and any(k.startswith(t[:-1]) for k in EVENT_TYPES))
    ]
    if bad:
        # The lists go to the error's details (ctx) for clients; the message stays Chinese.
        raise PydanticCustomError(
            "event_type_unknown",
            "含有不存在的事件类型",
            {"unknown": bad, "known": sorted(EVENT_TYPES)},
        )
    return list(dict.fromkeys(value))


class WebhookCreate(BaseModel):
    url: str = Field(max_length=1000, description="接收地址（http/https，默认不得指向内网）")
    kind: EndpointKind = EndpointKind.webhook
    description: str | None = Field(default=None, max_length=300)
    event_types: list[str] = Field(default_factory=list, description="订阅的事件类型；空表示全部")
    unit_id: int | None = Field(default=None, description="只接收该单位的事件")
    plan_id: int | None = Field(default=None, description="只接收该计划的事件")
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="每分钟最多推送条数；Webhook 默认 0（不限），钉钉/企业微信机器人默认且最多 20",
    )
    secret: str | None = Field(
        default=None, max_length=200, description="钉钉机器人的加签密钥（SEC…）；Webhook 的密钥由系统生成"
    )

    _types = field_validator("event_types")(classmethod(lambda cls, v: _check_event_types(v)))


class WebhookUpdate(BaseModel):
    url: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=300)
    event_types: list[str] | None = None
    unit_id: int | None = None
    plan_id: int | None = None
    is_active: bool | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=0, le=100_000)
    rotate_secret: bool = Field(
        default=False, description="重新生成签名密钥（新密钥仅在本次返回；旧密钥在过渡期内继续签名）"
    )

    @field_validator("event_types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_event_types(v)


class WebhookPublic(BaseModel):
    id: int
    kind: EndpointKind
    url: str
    description: str | None
    event_types: list[str]
    unit_id: int | None
    plan_id: int | None
    is_active: bool
    rate_limit_per_minute: int
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="密钥轮换过渡期的结束时间：此前每条消息同时带新旧两个签名"
    )
    failing_since: datetime | None = Field(default=None, description="自此时起每次投递均失败（成功后清空）")
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str | None = Field(description="签名密钥，仅此一次返回，请妥善保存")


class RotateSecret(BaseModel):
    overlap_hours: float | None = Field(
        default=None,
        ge=0,
        le=24 * 30,
        description="过渡期（小时），期间新旧密钥都签名；默认 DUBAN_WEBHOOK_SECRET_OVERLAP_HOURS（24）",
    )


class Redeliver(BaseModel):
    """Either one message (`message_id`) or every message created in [since, until)."""

    message_id: str | None = Field(
        default=None, max_length=64, description="重新投递这一条消息（webhook-id）"
    )
    since: datetime | None = Field(default=None, description="重新投递自此时起产生的消息")
    until: datetime | None = Field(default=None, description="……到此时为止（不含）；默认现在")
    include_sent: bool = Field(default=False, description="时间段内已成功的消息也重新投递")


class RedeliverResult(BaseModel):
    requeued: int = Field(description="重新排队的投递数")
    message_ids: list[str] = Field(description="前 100 条消息的 webhook-id")


class PingResult(BaseModel):
    message_id: str
    event_id: int


class DeliveryLogEntry(BaseModel):
    """One attempt to deliver a message to this endpoint: request, response, status, timing."""

    id: int
    delivery_id: int
    message_id: str
    event_type: str
    attempt: int
    started_at: datetime
    duration_ms: int
    succeeded: bool
    status_code: int | None
    url: str | None
    request_headers: dict[str, str] | None
    request_body: str | None = Field(description="请求体（截断至 4096 字符）")
    response_headers: dict[str, str] | None
    response_body: str | None = Field(description="响应体（截断至 2048 字符）")
    error: str | None
    delivery_status: str
