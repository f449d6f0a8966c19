"""Bookkeeping: when and from where each API key was last used — one short write a minute per key.

Not a domain change (no audit entry, no version): a conditional UPDATE committed at once, so that
the key's row is not held locked for the rest of the request, and so that of many replicas
serving one key in the same minute only the first writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col

from duban.db import rowcount
from duban.models import ApiKey

EVERY = timedelta(minutes=1)


def mark_used(session: Session, *, record: ApiKey, address: str, now: datetime) -> bool:
    """Record this use if the last recorded one is a minute old or more; True when it wrote."""
    if record.last_used_at is not None and now - record.last_used_at < EVERY:
        return False
    written = rowcount(
        session.execute(
            update(ApiKey)
            .where(
                col(ApiKey.id) == record.id,
                or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) <= now - EVERY),
            )
            .values(last_used_at=now, last_used_address=address[:64]),
            execution_options={"synchronize_session": False, "preserve_rowcount": True},
        )
    )
    session.commit()
    return bool(written)
