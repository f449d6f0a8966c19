"""The one write path: load in scope → check the state → change → version → audit → outbox → one commit.

A service keeps only the rule that is its own::

    with unit_of_work(session, actor=user, now=now) as uow:
        check_transition(report, "approve")          # the rule
        uow.track(report, action="report.approve")   # before-snapshot; audited with its after-state
        report.state = ProgressReportState.approved
        uow.emit(ReportReviewed(...), plan_id=..., unit_id=...)
    # committed here, or rolled back with nothing written

Every mutable table carries a version column that SQLAlchemy checks on UPDATE (`version_id_col`,
see duban.models._base.Versioned): a second writer that read the same version matches no row, and
the unit of work turns that into 409 `<entity>.concurrent_update` — the database decides, not a
read-then-check in Python. Nothing else in the services commits, audits or writes outbox rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from duban import audit, outbox
from duban.errors import Conflict
from duban.events import EventData
from duban.models import OutboxEvent

T = TypeVar("T")
Snapshot = Callable[[Any], dict[str, Any]]

# Entity names in error codes, where they differ from the table name.
_ENTITY_NAMES = {
    "progress_report": "report",
    "extension_request": "extension",
    "user_account": "user",
    "plan_section": "section",
    "webhook_endpoint": "webhook",
}
_STALE_TABLE = re.compile(r"on table '([^']+)'")


def entity_type_of(obj: Any) -> str:
    return str(getattr(obj, "__tablename__", type(obj).__name__.lower()))


def _entity_name(table: str) -> str:
    return _ENTITY_NAMES.get(table, table)


def concurrent_update(table: str | None) -> Conflict:
    name = _entity_name(table) if table else "entity"
    return Conflict("已被他人修改，请刷新后重试", code=f"{name}.concurrent_update")


class UnitOfWork:
    """Collects what a write changes; `commit` audits and emits it in the same transaction."""

    def __init__(self, session: Session, *, actor: Any | None, now: datetime) -> None:
        self.session = session
        self.actor = actor
        self.now = now
        self._tracked: list[tuple[Any, str, str, dict[str, Any] | None, Snapshot]] = []
        self._extra: list[audit.Pending] = []
        self._events: list[OutboxEvent] = []
        self.done = False

    # --- what changes

    # `snapshot` replaces the row's plain field dump in the audit entry where an entity is more
    # than its row (a task with its units, a group with its members); it runs after the flush.

    def track(
        self, obj: T, *, action: str, entity_type: str | None = None, snapshot: Snapshot | None = None
    ) -> T:
        """An existing row about to change: snapshot it now, audit its state at commit."""
        snap = snapshot or audit.snapshot
        self._tracked.append((obj, action, entity_type or entity_type_of(obj), snap(obj), snap))
        return obj

    def add(
        self,
        obj: T,
        *,
        action: str | None = None,
        entity_type: str | None = None,
        snapshot: Snapshot | None = None,
    ) -> T:
        """A new row; audited (after flush, with its id) when an action is named."""
        self.session.add(obj)
        if action is not None:
            self._tracked.append(
                (obj, action, entity_type or entity_type_of(obj), None, snapshot or audit.snapshot)
            )
        return obj

    def guard(self, obj: Any) -> None:
        """Bump `obj`'s row version without other changes, so that writers deciding on the same
        parent (e.g. "no pending request yet") conflict instead of both succeeding."""
        key = inspect(obj).mapper.version_id_col.key
        setattr(obj, key, getattr(obj, key) + 1)

    def delete(
        self, obj: Any, *, action: str, entity_type: str | None = None, snapshot: Snapshot | None = None
    ) -> None:
        self._extra.append(
            audit.Pending(
                action=action,
                entity_type=entity_type or entity_type_of(obj),
                entity_id=str(obj.id),
                before=(snapshot or audit.snapshot)(obj),
            )
        )
        self.session.delete(obj)

    def record(
        self,
        *,
        action: str,
        entity_type: str,
        entity_id: Any,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """An audit entry that is not a row's before/after (a sign-in, a bulk operation's summary)."""
        self._extra.append(
            audit.Pending(
                action=action, entity_type=entity_type, entity_id=str(entity_id), before=before, after=after
            )
        )

    def emit(
        self,
        event: EventData,
        *,
        dedupe_key: str | None = None,
        plan_id: int | None = None,
        assignment_id: int | None = None,
        unit_id: int | None = None,
        endpoint_id: int | None = None,
    ) -> OutboxEvent:
        row = outbox.enqueue(
            self.session,
            event=event,
            dedupe_key=dedupe_key,
            now=self.now,
            plan_id=plan_id,
            assignment_id=assignment_id,
            unit_id=unit_id,
            endpoint_id=endpoint_id,
        )
        self._events.append(row)
        return row

    # --- the end

    def flush(self) -> None:
        """Send pending changes now (to get ids); a lost race surfaces as 409 (see unit_of_work)."""
        self.session.flush()

    def commit(self) -> None:
        for obj, _action, _type, before, _snap in self._tracked:
            if before is not None and hasattr(obj, "updated_at") and self.session.is_modified(obj):
                obj.updated_at = self.now
        self.flush()
        entries = []
        for obj, action, entity_type, before, snap in self._tracked:
            after = snap(obj)
            entries.append(
                audit.Pending(
                    action=action, entity_type=entity_type, entity_id=str(obj.id), before=before, after=after
                )
            )
        entries.extend(self._extra)
        audit.append(self.session, actor=self.actor, entries=entries, now=self.now)
        try:
            self.session.flush()
        except IntegrityError as exc:
            if "audit_entry" in str(exc.orig) or "prev_hash" in str(exc.orig):
                # Two writers extended one entity's chain at once: the later one retries.
                raise concurrent_update(entries[0].entity_type if entries else None) from exc
            raise
        self.session.commit()
        self.done = True


@contextmanager
def unit_of_work(session: Session, *, actor: Any | None, now: datetime) -> Iterator[UnitOfWork]:
    """One write, committed on a clean exit; on any error nothing of it is left behind."""
    uow = UnitOfWork(session, actor=actor, now=now)
    try:
        yield uow
        if not uow.done:
            uow.commit()
    except StaleDataError as exc:
        # Raised by whichever flush met the lost race: an explicit one, or an autoflush before a query.
        session.rollback()
        match = _STALE_TABLE.search(str(exc))
        raise concurrent_update(match.group(1) if match else None) from exc
    except BaseException:
        session.rollback()
        raise
