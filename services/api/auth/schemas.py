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
    expires_at: datetime | None = Field(description="轮换后即旧密钥停用的时间")
    revoked_at: datetime | None
    rotated_at: datetime | None = Field(description="被新密钥替换的时间")
    last_used_at: datetime | None = Field(description="最近使用时间（每分钟至多记录一次）")
    last_used_address: str | None
    active: bool = Field(description="此刻可用：未吊销且未过期")


class ServiceAccountPublic(BaseModel):
    id: int = Field(description="服务账号 id（即其用户 id，外部编号的来源 external_source_id）")
    name: str
    username: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    scopes: list[str] = Field(description="最新有效密钥的权限范围")
    last_used_at: datetime | None
    last_used_address: str | None
    keys: list[ApiKeyPublic] = Field(description="新的在前")


class RotateKeyIn(BaseModel):
    old_keys_valid_until: datetime | None = Field(
        default=None, description="旧密钥继续有效到此时间（缺省 24 小时后，最长 30 天）"
    )


class KeyRotated(BaseModel):
    account_id: int
    key_id: int
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    api_key: str = Field(description="新密钥，只显示这一次，请妥善保存")
    old_keys: list[ApiKeyPublic] = Field(description="仍在过渡期内的旧密钥")
