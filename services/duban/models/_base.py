from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import duban.db  # noqa: F401  -- installs the naming convention before any table is declared


def utcnow() -> datetime:
    return datetime.now(UTC)


def str_enum(enum: type[StrEnum], **kw: Any) -> Any:
    """Enums stored as short strings: portable, and new members need no ALTER TYPE."""
    length = max(len(m.value) for m in enum) + 8
    return Field(sa_type=sa.String(length), **kw)


def json_field(default_factory: Any = dict, **kw: Any) -> Any:
    return Field(default_factory=default_factory, sa_type=sa.JSON, **kw)


class Timestamped(SQLModel):
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Versioned(Timestamped):
    # Incremented on every update; the ETag of the resource.
    version: int = Field(default=1)
