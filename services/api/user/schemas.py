from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.external import EXTERNAL_ID_DOC
from duban.models import Role, UserBase

ASSIGNABLE_ROLES = [r for r in Role if r is not Role.service]


class UserCreate(UserBase):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=128)
    roles: list[Role] = Field(min_length=1)
    external_id: str | None = Field(default=None, max_length=100, description=EXTERNAL_ID_DOC)


class UserPut(UserBase):
    """The whole account, as PUT by an integration under its external id; the password only counts
    when the account is created (without one, nobody can sign in with a password until it is set)."""

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str | None = Field(default=None, min_length=8, max_length=128)
    roles: list[Role] = Field(min_length=1)


class UserUpdate(BaseModel):
    full_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    unit_id: int | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=128)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=128)
    new_password: str = Field(min_length=8, max_length=128)


class UserPublic(UserBase):
    id: int
    roles: list[str]
    is_service_account: bool
    last_login_at: datetime | None
    external_id: str | None
    external_source_id: int | None = Field(description="外部编号所属的服务账号；人员设置的为空")
    version: int
    created_at: datetime
    updated_at: datetime


class MePublic(UserPublic):
    unit_name: str | None = Field(description="所在单位名称（无单位时为空）")
