from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
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
    # Incremented on every update; the ETag of the resource. SQLAlchemy puts it in the WHERE of
    # every UPDATE (version_id_col), so a writer holding a stale copy matches no row: 409, not a
    # silently lost update (see duban.uow).
    version: int = Field(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class RowLocked(SQLModel):
    """Optimistic locking for tables whose `version` column already means something else."""

    row_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.row_version}  # type: ignore[attr-defined]


# --- external ids ------------------------------------------------------------------------------
# Objects an integration creates carry its own id for them, unique per service account: two OA
# systems may both call a task "T-1". `external_source_id` is the service account (NULL: the id was
# set by a person, and those are unique among themselves). See docs/integration.md.


def external_source_field() -> Any:
    # A user_account id, not a foreign key: unit → user_account would close a cycle with
    # user_account.unit_id (no table order for create/drop). Service accounts are never deleted.
    return Field(default=None)


def external_id_field() -> Any:
    return Field(default=None, max_length=100)


def external_id_keys(table: str) -> tuple[Any, ...]:
    unsourced = sa.text("external_source_id IS NULL")
    return (
        sa.UniqueConstraint("external_source_id", "external_id"),
        sa.Index(
            f"uq_{table}_external_id_unsourced",
            "external_id",
            unique=True,
            sqlite_where=unsourced,
            postgresql_where=unsourced,
        ),
    )
