from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import col

from api.deps import SessionDep, require_roles
from api.http import json_response
from api.pagination import Page, paginate
from duban.models import AuditEntry, Role, User

router = APIRouter(prefix="/audit", tags=["audit"])

AuditReader = Annotated[
    User, Depends(require_roles(Role.office, Role.viewer, Role.admin, scope="audit:read"))
]

COLUMNS = (
    col(AuditEntry.id),
    col(AuditEntry.at),
    col(AuditEntry.actor_id),
    col(AuditEntry.actor_name),
    col(AuditEntry.action),
    col(AuditEntry.entity_type),
    col(AuditEntry.entity_id),
    col(AuditEntry.before),
    col(AuditEntry.after),
    col(AuditEntry.request_id),
    col(AuditEntry.prev_hash),
    col(AuditEntry.hash),
)


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    prev_hash: str
    hash: str


@router.get("", response_model=Page[AuditEntryPublic])
def list_audit(
    _user: AuditReader,
    session: SessionDep,
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: Annotated[str | None, Query(max_length=40)] = None,
    actor_id: int | None = None,
    action: Annotated[str | None, Query(max_length=64, description="完整动作名，或以“.”结尾的前缀")] = None,
    since: Annotated[datetime | None, Query(description="不早于（含）")] = None,
    until: Annotated[datetime | None, Query(description="早于（不含）")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """The audit log, newest first (office, viewer and admin)."""
    stmt = sa.select(*COLUMNS)
    if entity_type:
        stmt = stmt.where(col(AuditEntry.entity_type) == entity_type)
    if entity_id:
        stmt = stmt.where(col(AuditEntry.entity_id) == entity_id)
    if actor_id is not None:
        stmt = stmt.where(col(AuditEntry.actor_id) == actor_id)
    if action:
        if action.endswith("."):
            stmt = stmt.where(col(AuditEntry.action).startswith(action, autoescape=True))
        else:
            stmt = stmt.where(col(AuditEntry.action) == action)
    if since is not None:
        stmt = stmt.where(col(AuditEntry.at) >= _aware(since))
    if until is not None:
        stmt = stmt.where(col(AuditEntry.at) < _aware(until))
    return json_response(
        paginate(session, stmt, order=[(col(AuditEntry.id), "desc")], limit=limit, cursor=cursor)
    )


def _aware(value: datetime) -> datetime:
    # A naive time from a client is read as UTC rather than refused: the filter is a read.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
