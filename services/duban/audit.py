"""The audit log: every write, chained by hashes so that an edited or removed entry is detectable.

Each entity has its own chain: an entry links to the previous entry *of the same entity*. Writers on
different entities never wait for each other (the first wave linked one global chain under one
advisory lock, so every audited write on every replica queued on it). Writers on the same entity are
already serialised by its row version; for the rest, a unique (entity, prev_hash) constraint makes
the database refuse a fork, and the loser's transaction answers 409.

Entries written before this scheme (`scheme = 1`) form one global chain in id order and are still
verified as such.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic_core import to_jsonable_python
from sqlalchemy import Select, func
from sqlmodel import Session, col, select

from duban.context import current_request_id
from duban.models import AuditEntry

GENESIS = "0" * 64
GLOBAL_CHAIN = 1
ENTITY_CHAIN = 2
SECRET_FIELDS = ("password_hash", "secret", "key_hash", "token_hash")


def snapshot(obj: Any, *, exclude: tuple[str, ...] = SECRET_FIELDS) -> dict[str, Any]:
    # Table models skip validation on assignment (an enum column may hold a plain str): no warnings.
    data = obj.model_dump(mode="json", warnings=False) if hasattr(obj, "model_dump") else dict(obj)
    return {k: v for k, v in data.items() if k not in exclude}


def snapshot_row(row: Mapping[str, Any], *, exclude: tuple[str, ...] = SECRET_FIELDS) -> dict[str, Any]:
    """`snapshot` of a row read or written without the ORM (a mapping of column values): the same
    JSON values as the model's dump (`to_jsonable_python` is the serializer `model_dump` uses)."""
    data: dict[str, Any] = to_jsonable_python({k: v for k, v in row.items() if k not in exclude})
    return data


def _canonical(values: Mapping[str, Any]) -> bytes:
    at = values["at"].isoformat(timespec="microseconds")
    return orjson.dumps(
        [
            at,
            values["actor_id"],
            values["action"],
            values["entity_type"],
            values["entity_id"],
            values["before"],
            values["after"],
            values["request_id"],
            values["prev_hash"],
        ],
        option=orjson.OPT_SORT_KEYS,
    )


_HASHED = (
    "at",
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "request_id",
    "prev_hash",
)


def compute_hash(entry: AuditEntry | Mapping[str, Any]) -> str:
    values = entry if isinstance(entry, Mapping) else {k: getattr(entry, k) for k in _HASHED}
    return hashlib.sha256(_canonical(values)).hexdigest()


@dataclass(frozen=True)
class Pending:
    """An entry to append: what happened to which entity, before and after."""

    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def _tails(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The newest hash of each entity's chain, in one query per entity type."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for entity_type, entity_id in keys:
        by_type[entity_type].add(entity_id)
    out: dict[tuple[str, str], str] = {}
    for entity_type, ids in by_type.items():
        newest = (
            select(func.max(AuditEntry.id))
            .where(AuditEntry.entity_type == entity_type, col(AuditEntry.entity_id).in_(sorted(ids)))
            .group_by(col(AuditEntry.entity_id))
        )
        rows = session.exec(
            select(AuditEntry.entity_id, AuditEntry.hash).where(col(AuditEntry.id).in_(newest))
        ).all()
        out.update({(entity_type, entity_id): h for entity_id, h in rows})
    return out


def append(
    session: Session,
    *,
    actor: Any | None,
    entries: list[Pending],
    now: datetime,
    fresh: Iterable[tuple[str, str]] = (),
) -> list[AuditEntry]:
    """Append entries in the caller's transaction (the caller commits), each on its entity's chain.

    `fresh`: (entity type, id) of rows inserted in this transaction whose ids were never used before,
    so their chains start here (no look-up). Were one wrong, the unique (entity, prev_hash) key
    refuses the second genesis link and the write answers 409 — a fork is never stored.
    """
    rows = [
        AuditEntry(**values) for values in linked(session, actor=actor, entries=entries, now=now, fresh=fresh)
    ]
    session.add_all(rows)
    return rows


def linked(
    session: Session | None,
    *,
    actor: Any | None,
    entries: list[Pending],
    now: datetime,
    fresh: Iterable[tuple[str, str]] = (),
    tails: Mapping[tuple[str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """The column values of `entries`, each linked on its entity's chain and hashed, for one
    multi-row INSERT (`append` without the ORM). `tails`: chain heads the caller read already;
    `session` looks up the others (None: every entry's head is in `fresh` or `tails`)."""
    if not entries:
        return []
    skip = set(fresh) | set(tails or ())
    wanted = {(e.entity_type, e.entity_id) for e in entries} - skip
    heads = dict(tails or {})
    if wanted:
        if session is None:
            raise ValueError(f"no session to look up the chain heads of {sorted(wanted)}")
        heads.update(_tails(session, wanted))
    at = now.astimezone(UTC)
    request_id = current_request_id()
    actor_id, actor_name = (actor.id, actor.username) if actor else (None, None)
    rows = []
    for item in entries:
        key = (item.entity_type, item.entity_id)
        values: dict[str, Any] = {
            "at": at,
            "actor_id": actor_id,
            "actor_name": actor_name,
            "action": item.action,
            "entity_type": item.entity_type,
            "entity_id": item.entity_id,
            "before": item.before,
            "after": item.after,
            "request_id": request_id,
            "prev_hash": heads.get(key, GENESIS),
            "scheme": ENTITY_CHAIN,
        }
        values["hash"] = heads[key] = compute_hash(values)
        rows.append(values)
    return rows


@dataclass
class VerifyResult:
    checked: int
    broken_id: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch: int = 5000) -> VerifyResult:
    """Walk every chain in id order; name the first entry whose content or link does not match."""
    global_prev = GENESIS
    entity_tail: dict[tuple[str, str], str] = {}
    checked = 0
    for entry in _iter_entries(session, batch):
        key = (entry.entity_type, entry.entity_id)
        if entry.scheme == GLOBAL_CHAIN:
            expected = global_prev
        else:
            expected = entity_tail.get(key, GENESIS)
        if entry.prev_hash != expected:
            return VerifyResult(checked, entry.id, "prev_hash does not match the previous entry")
        if compute_hash(entry) != entry.hash:
            return VerifyResult(checked, entry.id, "content does not match its hash")
        if entry.scheme == GLOBAL_CHAIN:
            global_prev = entry.hash
        entity_tail[key] = entry.hash
        checked += 1
    return VerifyResult(checked)


def _iter_entries(session: Session, batch: int) -> Iterator[AuditEntry]:
    last_id = 0
    while True:
        stmt: Select[Any] = (
            select(AuditEntry)
            .where(col(AuditEntry.id) > last_id)
            .order_by(col(AuditEntry.id))
            .limit(batch)
            # What is stored, not what this session remembers.
            .execution_options(populate_existing=True)
        )
        rows = list(session.exec(stmt).all())  # type: ignore[call-overload]
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        session.expunge_all()


__all__ = [
    "GENESIS",
    "Pending",
    "VerifyResult",
    "append",
    "compute_hash",
    "linked",
    "snapshot",
    "snapshot_row",
    "verify",
]
