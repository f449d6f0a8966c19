from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class ServiceAccountCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    full_name: str | None = Field(default=None, max_length=100)
    scopes: list[str] = Field(min_length=1)
    expires_at: datetime | None = None


class ServiceAccountCreated(BaseModel):
    id: int
    user_id: int
    name: str
    scopes: list[str]
    expires_at: datetime | None
    api_key: str = Field(description="只显示这一次，请妥善保存")


class ApiKeyPublic(BaseModel):
    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
