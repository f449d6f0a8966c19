"""The in-app inbox: Notification rows, written at fan-out in the notifier's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from duban.models import Notification
from notifier.render import Rendered


def rows(
    *, event_id: int, event_type: str, user_ids: list[int], rendered: Rendered, now: datetime
) -> list[dict[str, Any]]:
    """One event's inbox rows, one a person; `add` writes a whole fan-out batch's at once."""
    return [
        {
            "user_id": uid,
            "event_id": event_id,
            "type": event_type,
            "title": rendered.title,
            "body": rendered.text,
            "link": rendered.link,
            "created_at": now,
            "read_at": None,
        }
        for uid in user_ids
    ]


def add(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write inbox rows, once each (a person's row for an event exists at most once)."""
    if not rows:
        return
    table: Any = Notification.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    # One compiled statement executed for many rows (the driver batches them), not a statement
    # per event compiled with its own VALUES list.
    session.execute(insert.on_conflict_do_nothing(index_elements=["user_id", "event_id"]), rows)
