from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from duban.models._base import (
    Versioned,
    external_id_field,
    external_id_keys,
    external_source_field,
    json_field,
    utcnow,
)


class Role(StrEnum):
    admin = "admin"
    office = "office"
    leader = "leader"
    unit_head = "unit_head"
    unit_staff = "unit_staff"
    viewer = "viewer"
    service = "service"


# Roles that see every unit's data; everyone else is scoped to their own unit.
READ_ALL_ROLES = frozenset({Role.admin, Role.office, Role.leader, Role.viewer, Role.service})


class UserBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="SET NULL")
    is_active: bool = Field(default=True)


class User(UserBase, Versioned, table=True):
    __tablename__ = "user_account"
    __table_args__ = external_id_keys("user_account")
    id: int | None = Field(default=None, primary_key=True)
    roles: list[str] = json_field(default_factory=list)
    password_hash: str | None = Field(default=None, max_length=255)
    is_service_account: bool = Field(default=False)
    # Incremented to invalidate every token issued before (password change, disable).
    token_generation: int = Field(default=0)
    last_login_at: datetime | None = None
    external_source_id: int | None = external_source_field()
    external_id: str | None = external_id_field()

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def reads_all(self) -> bool:
        return any(r in READ_ALL_ROLES for r in self.roles)


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=128, unique=True)
    # Tokens rotated from one login share a family; reuse of a rotated token revokes the family.
    family: str = Field(max_length=64, index=True)
    # The user's token generation when issued: a bump (password change, reset, disable, logout)
    # ends every refresh token issued before it, as it ends every access token.
    generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempt"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)
    succeeded: bool = Field(default=False)
    at: datetime = Field(default_factory=utcnow, index=True)


class LoginThrottle(SQLModel, table=True):
    """One counter per account and one per address, changed by a single UPSERT (see api.auth.throttle)."""

    __tablename__ = "login_throttle"
    key: str = Field(max_length=200, primary_key=True)
    failures: int = Field(default=0)
    last_at: datetime = Field(index=True)
    locked_until: datetime | None = None


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=128, unique=True)
    scopes: list[str] = json_field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    # Set when a newer key replaced this one; it then works until `expires_at` (the overlap).
    rotated_at: datetime | None = None
    # Recorded at most once a minute per key (api.auth.usage), not on every request.
    last_used_at: datetime | None = None
    last_used_address: str | None = Field(default=None, max_length=64)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("principal", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(max_length=64)
    key: str = Field(max_length=200)
    method: str = Field(max_length=10)
    path: str = Field(max_length=500)
    request_hash: str = Field(max_length=64)
    # NULL while the first request with the key is still running (the in-progress row).
    status_code: int | None = None
    response_body: bytes | None = None
    response_headers: dict[str, str] = json_field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow, index=True)


__all__ = [
    "ApiKey",
    "IdempotencyRecord",
    "LoginAttempt",
    "LoginThrottle",
    "READ_ALL_ROLES",
    "RefreshToken",
    "Role",
    "User",
    "UserBase",
]
