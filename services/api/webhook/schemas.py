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
    rate_limit_per_minute: int = Field(default=60, ge=0, le=100_000)
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
    rotate_secret: bool = Field(default=False, description="重新生成签名密钥（新密钥仅在本次返回）")

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
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str | None = Field(description="签名密钥，仅此一次返回，请妥善保存")
