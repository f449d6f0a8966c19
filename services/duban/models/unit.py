from __future__ import annotations

from enum import StrEnum

from sqlmodel import Field, SQLModel

from duban.models._base import (
    Versioned,
    external_id_field,
    external_id_keys,
    external_source_field,
    json_field,
    str_enum,
)


class UnitKind(StrEnum):
    department = "department"
    town = "town"
    street = "street"
    zone = "zone"
    office = "office"
    leadership = "leadership"


class UnitBase(SQLModel):
    name: str = Field(max_length=100, index=True, unique=True)
    short_name: str | None = Field(default=None, max_length=50)
    kind: UnitKind = str_enum(UnitKind, index=True)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", ondelete="SET NULL")
    code: str | None = Field(default=None, max_length=50, unique=True)
    contact_email: str | None = Field(default=None, max_length=200)
    is_active: bool = Field(default=True)


class Unit(UnitBase, Versioned, table=True):
    __tablename__ = "unit"
    __table_args__ = external_id_keys("unit")
    id: int | None = Field(default=None, primary_key=True)
    external_source_id: int | None = external_source_field()
    external_id: str | None = external_id_field()


class UnitAlias(SQLModel, table=True):
    """Other names a unit goes by in documents (经济开发区 → 县经济开发区管委会)."""

    __tablename__ = "unit_alias"
    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=100, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True, ondelete="CASCADE")


class UnitGroupBase(SQLModel):
    name: str = Field(max_length=100, unique=True)
    description: str | None = Field(default=None, max_length=500)
    # Dynamic membership by kind (各镇街 = every town and street), plus explicit members.
    member_kinds: list[str] = json_field(default_factory=list)


class UnitGroup(UnitGroupBase, Versioned, table=True):
    __tablename__ = "unit_group"
    id: int | None = Field(default=None, primary_key=True)


class UnitGroupMember(SQLModel, table=True):
    __tablename__ = "unit_group_member"
    group_id: int = Field(foreign_key="unit_group.id", primary_key=True, ondelete="CASCADE")
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True, ondelete="CASCADE")


__all__ = ["Unit", "UnitAlias", "UnitBase", "UnitGroup", "UnitGroupBase", "UnitGroupMember", "UnitKind"]
