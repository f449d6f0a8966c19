from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventTypePublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: str = Field(description="事件类型，如 assignment.overdue")
    version: int = Field(description="该类型载荷模式的版本；不兼容的变更会递增")
    title: str = Field(description="事件名称")
    description: str | None = None
    schema_id: str = Field(description="JSON Schema 的 $id，含版本，如 urn:duban:event:assignment.overdue:v1")
    schema_: dict[str, Any] = Field(
        alias="schema", description="Webhook 请求体的 JSON Schema（2020-12）：type、version、timestamp、data"
    )
