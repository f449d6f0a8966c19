"""The audit log: every write, chained by hashes so an edited row is detectable."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Select, text
from sqlmodel import Session, col, select

from api.context import current_request_id
from duban.models import AuditEntry, User

GENESIS = "0" * 64
# Any constant: serialises appends to the chain across api replicas on PostgreSQL.
_CHAIN_LOCK = 0x44554241


def snapshot(obj: Any, *, exclude: tuple[str, ...] = ("password_hash",)) -> dict[str, Any]:
    # Table models skip validation on assignment (an enum column may hold a plain str): no warnings.
    data = obj.model_dump(mode="json", warnings=False) if hasattr(obj, "model_dump") else dict(obj)
    return {k: v for k, v in data.items() if k not in exclude}


def _canonical(entry: AuditEntry) -> bytes:
    at = entry.at.isoformat(timespec="microseconds")
    return orjson.dumps(
        [
            at,
            entry.actor_id,
            entry.action,
            entry.entity_type,
            entry.entity_id,
            entry.before,
            entry.after,
            entry.request_id,
            entry.prev_hash,
        ],
        option=orjson.OPT_SORT_KEYS,
    )


def compute_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


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
    """Append one entry in the caller's transaction (the caller commits)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    session.flush()
    last = session.exec(select(AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1)).first()
    entry = AuditEntry(
        at=now.astimezone(UTC),
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else None,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        request_id=current_request_id(),
        prev_hash=last or GENESIS,
        hash="",
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    session.flush()
    return entry


def record_many(
    session: Session,
    *,
    actor: User | None,
    entries: list[dict[str, Any]],
    now: datetime,
) -> list[AuditEntry]:
    """Append entries (keys: action, entity_type, entity_id, before, after) with one lock and one read."""
    if not entries:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    session.flush()
    last = session.exec(select(AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1)).first()
    prev = last or GENESIS
    rows = []
    for item in entries:
        entry = AuditEntry(
            at=now.astimezone(UTC),
            actor_id=actor.id if actor else None,
            actor_name=actor.username if actor else None,
            action=item["action"],
            entity_type=item["entity_type"],
            entity_id=str(item["entity_id"]),
            before=item.get("before"),
            after=item.get("after"),
            request_id=current_request_id(),
            prev_hash=prev,
            hash="",
        )
        entry.hash = prev = compute_hash(entry)
        rows.append(entry)
    session.add_all(rows)
    session.flush()
    return rows


@dataclass
class VerifyResult:
    checked: int
    broken_id: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order; name the first entry whose content or link does not match."""
    prev = GENESIS
    checked = 0
    for entry in _iter_entries(session, batch):
        if entry.prev_hash != prev:
            return VerifyResult(checked, entry.id, "prev_hash does not match the previous entry")
        if compute_hash(entry) != entry.hash:
            return VerifyResult(checked, entry.id, "content does not match its hash")
        prev = entry.hash
        checked += 1
    return VerifyResult(checked)


def _iter_entries(session: Session, batch: int) -> Iterator[AuditEntry]:
    last_id = 0
    while True:
        stmt: Select[Any] = (
            select(AuditEntry).where(col(AuditEntry.id) > last_id).order_by(col(AuditEntry.id)).limit(batch)
        )
        rows = list(session.exec(stmt).all())  # type: ignore[call-overload]
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        session.expunge_all()
