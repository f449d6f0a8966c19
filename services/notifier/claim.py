"""Claiming due deliveries for this replica, and the queue's depth and age (for metrics).

claim is one short transaction; replicas on PostgreSQL get disjoint sets through SKIP LOCKED.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from duban.models import Delivery, DeliveryStatus

D = Delivery.__table__  # type: ignore[attr-defined]


def claim(session: Session, *, now: datetime, limit: int, lease_seconds: int) -> list[tuple[int, int]]:
    """Take up to `limit` due deliveries (or ones whose lease expired): [(id, attempts)]. Commits.

    PostgreSQL: one UPDATE over a FOR UPDATE SKIP LOCKED subselect, so replicas get disjoint sets.
    SQLite: the same UPDATE without the locking clause is atomic under its single-writer lock.
    """
    c = D.alias("candidate")
    earlier = D.alias("earlier")
    due = sa.or_(
        sa.and_(c.c.status == str(DeliveryStatus.pending), c.c.next_attempt_at <= now),
        sa.and_(c.c.status == str(DeliveryStatus.sending), c.c.lease_until < now),
    )
    # One assignment's events reach an endpoint in event order: a delivery waits while an earlier
    # one of the same (endpoint, assignment) is still pending or in flight (a dead letter does not
    # hold the line; its redelivery is the office's decision).
    held = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.endpoint_id == c.c.endpoint_id,
            earlier.c.assignment_id == c.c.assignment_id,
            earlier.c.event_id < c.c.event_id,
            earlier.c.status.in_([str(DeliveryStatus.pending), str(DeliveryStatus.sending)]),
        )
        .exists()
    )
    pick = (
        sa.select(c.c.id)
        .where(due, sa.or_(c.c.assignment_id.is_(None), c.c.endpoint_id.is_(None), ~held))
        .order_by(c.c.next_attempt_at, c.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(of=c, skip_locked=True)
    stmt = (
        sa.update(D)
        .where(D.c.id.in_(pick.scalar_subquery()))
        .values(
            status=str(DeliveryStatus.sending),
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=D.c.attempts + 1,
        )
        .returning(D.c.id, D.c.attempts)
    )
    claimed = [(int(r[0]), int(r[1])) for r in session.execute(stmt).all()]
    session.commit()
    return sorted(claimed)


def queue_stats(session: Session, *, now: datetime) -> tuple[int, float]:
    depth, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(D.c.created_at)).where(
            D.c.status.in_([str(DeliveryStatus.pending), str(DeliveryStatus.sending)])
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(depth), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
