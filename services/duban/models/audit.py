from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from duban.models._base import utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_entity", "entity_type", "entity_id", "id"),
        # One successor per entry of an entity's chain: the database refuses a fork.
        sa.UniqueConstraint("entity_type", "entity_id", "prev_hash"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, index=True)
    actor_name: str | None = Field(default=None, max_length=100)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=40)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    request_id: str | None = Field(default=None, max_length=64)
    # 1: linked into the first wave's global chain; 2: linked to the previous entry of the same entity.
    scheme: int = Field(default=2, sa_column_kwargs={"server_default": "1"})
    # SHA-256 over the previous entry's hash and this entry's canonical content.
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
