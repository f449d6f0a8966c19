"""The in-app inbox: Notification rows, written at fan-out in the notifier's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from duban.db import rowcount
from duban.models import Notification
from notifier.render import Rendered


def add(
    session: Session,
    *,
    event_id: int,
    event_type: str,
    user_ids: list[int],
    rendered: Rendered,
    now: datetime,
) -> int:
    if not user_ids:
        return 0
    table: Any = Notification.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    rows = [
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
    stmt = insert.values(rows).on_conflict_do_nothing(index_elements=["user_id", "event_id"])
    return rowcount(session.execute(stmt, execution_options={"preserve_rowcount": True})) or 0
