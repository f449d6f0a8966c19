from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.external import EXTERNAL_ID_DOC
from duban.models import UnitBase, UnitGroupBase, UnitKind
from duban.text import Name


class UnitCreate(UnitBase):
    name: Name = Field(max_length=100)
    external_id: str | None = Field(default=None, max_length=100, description=EXTERNAL_ID_DOC)


class UnitPut(UnitBase):
    """The whole unit, as PUT by an integration under its external id."""

    name: Name = Field(max_length=100)


class UnitUpdate(BaseModel):
    name: Name | None = Field(default=None, min_length=1, max_length=100)
    short_name: Name | None = Field(default=None, max_length=50)
    kind: UnitKind | None = None
    parent_id: int | None = None
    code: str | None = Field(default=None, max_length=50)
    contact_email: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None


class UnitPublic(UnitBase):
    id: int
    external_id: str | None
    external_source_id: int | None = Field(description="外部编号所属的服务账号；人员设置的为空")
    version: int
    created_at: datetime
    updated_at: datetime


class AliasCreate(BaseModel):
    alias: Name = Field(min_length=1, max_length=100)
    unit_id: int


class AliasPublic(BaseModel):
    id: int
    alias: str
    unit_id: int


class UnitGroupCreate(UnitGroupBase):
    name: Name = Field(max_length=100)
    member_ids: list[int] = Field(default_factory=list)


class UnitGroupUpdate(BaseModel):
    name: Name | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    member_kinds: list[UnitKind] | None = None
    member_ids: list[int] | None = None


class UnitGroupPublic(UnitGroupBase):
    id: int
    version: int
    member_ids: list[int] = Field(description="显式成员")
    resolved_unit_ids: list[int] = Field(description="展开后的全部成员（含按类别的成员）")
