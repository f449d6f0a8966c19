"""Transitional: writes that have not moved onto duban.uow yet append audit entries through here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from duban import audit as _audit
from duban.audit import GENESIS, VerifyResult, compute_hash, snapshot, verify
from duban.models import AuditEntry, User

__all__ = ["GENESIS", "VerifyResult", "compute_hash", "record", "record_many", "snapshot", "verify"]


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime,
) -> AuditEntry:
    session.flush()
    pending = _audit.Pending(
        action=action, entity_type=entity_type, entity_id=str(entity_id), before=before, after=after
    )
    (entry,) = _audit.append(session, actor=actor, entries=[pending], now=now)
    session.flush()
    return entry


def record_many(
    session: Session, *, actor: User | None, entries: list[dict[str, Any]], now: datetime
) -> list[AuditEntry]:
    session.flush()
    rows = _audit.append(
        session,
        actor=actor,
        entries=[
            _audit.Pending(
                action=e["action"],
                entity_type=e["entity_type"],
                entity_id=str(e["entity_id"]),
                before=e.get("before"),
                after=e.get("after"),
            )
            for e in entries
        ],
        now=now,
    )
    session.flush()
    return rows
