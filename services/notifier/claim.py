"""Claiming due deliveries for this replica, and the queue's depth and age (for metrics).

claim is one short transaction; replicas on PostgreSQL get disjoint sets through SKIP LOCKED.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from duban.models import Delivery, DeliveryStatus, OutboxEvent, WebhookEndpoint

D = Delivery.__table__  # type: ignore[attr-defined]
E = OutboxEvent.__table__  # type: ignore[attr-defined]
WEP = WebhookEndpoint.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Endpoint:
    """The endpoint columns a send needs, read once per batch (a plain row, not an ORM object)."""

    id: int
    kind: str
    url: str
    secret: str | None
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    is_active: bool
    rate_limit_per_minute: int


@dataclass(frozen=True)
class Claimed:
    """A delivery this replica holds the lease on, with its event and endpoint."""

    id: int
    attempts: int
    channel: str
    target: str
    endpoint_id: int | None
    message_id: str
    event_type: str
    payload: dict[str, Any]
    plan_id: int | None
    # A test ping names its endpoint: it reaches that endpoint even while disabled.
    addressed_to: int | None
    endpoint: Endpoint | None
    # Set with an endpoint: this delivery holds back the later ones of its (endpoint, assignment).
    assignment_id: int | None = None


def _build_take(*, postgresql: bool, skip_endpoints: bool, skip_channels: bool) -> sa.Update:
    """The claim's UPDATE, built once per shape (building it — two aliases of a wide table — cost
    more CPU than running it); `now`, `lease_until`, `limit` and the skip lists are parameters."""
    c = D.alias("candidate")
    earlier = D.alias("earlier")
    now = sa.bindparam("now", type_=D.c.next_attempt_at.type)
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
    pick = sa.select(c.c.id).where(due, sa.or_(c.c.assignment_id.is_(None), c.c.endpoint_id.is_(None), ~held))
    if skip_endpoints:
        skipped = sa.bindparam("skip_endpoints", expanding=True, type_=sa.Integer)
        pick = pick.where(sa.or_(c.c.endpoint_id.is_(None), c.c.endpoint_id.not_in(skipped)))
    if skip_channels:
        pick = pick.where(c.c.channel.not_in(sa.bindparam("skip_channels", expanding=True, type_=sa.String)))
    pick = pick.order_by(c.c.next_attempt_at, c.c.id).limit(sa.bindparam("limit", type_=sa.Integer))
    if postgresql:
        pick = pick.with_for_update(of=c, skip_locked=True)
    return (
        sa.update(D)
        .where(D.c.id.in_(pick.scalar_subquery()))
        .values(
            status=str(DeliveryStatus.sending),
            lease_until=sa.bindparam("lease_until", type_=D.c.lease_until.type),
            attempts=D.c.attempts + 1,
        )
        .returning(D.c.id, D.c.attempts)
    )


_TAKE: dict[tuple[bool, bool, bool], sa.Update] = {}


def _take(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease_seconds: int,
    skip_endpoints: Collection[int] = (),
    skip_channels: Collection[str] = (),
) -> list[tuple[int, int]]:
    shape = (session.get_bind().dialect.name == "postgresql", bool(skip_endpoints), bool(skip_channels))
    stmt = _TAKE.get(shape)
    if stmt is None:
        stmt = _TAKE[shape] = _build_take(
            postgresql=shape[0], skip_endpoints=shape[1], skip_channels=shape[2]
        )
    params: dict[str, Any] = {
        "now": now,
        "limit": limit,
        "lease_until": now + timedelta(seconds=lease_seconds),
    }
    if skip_endpoints:
        params["skip_endpoints"] = list(skip_endpoints)
    if skip_channels:
        params["skip_channels"] = list(skip_channels)
    return sorted((int(r[0]), int(r[1])) for r in session.execute(stmt, params).all())


def claim(session: Session, *, now: datetime, limit: int, lease_seconds: int) -> list[tuple[int, int]]:
    """Take up to `limit` due deliveries (or ones whose lease expired): [(id, attempts)]. Commits.

    PostgreSQL: one UPDATE over a FOR UPDATE SKIP LOCKED subselect, so replicas get disjoint sets.
    SQLite: the same UPDATE without the locking clause is atomic under its single-writer lock.
    """
    claimed = _take(session, now=now, limit=limit, lease_seconds=lease_seconds)
    session.commit()
    return claimed


def claim_batch(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease_seconds: int,
    skip_endpoints: Collection[int] = (),
    skip_channels: Collection[str] = (),
) -> list[Claimed]:
    """claim, and in the same transaction everything the batch's sends need (one query: the
    deliveries with their events and endpoints). Does not commit: the caller prepares the batch
    (quiet hours, rate limits) in this transaction and commits before sending.

    `skip_*`: endpoints (channels) this replica is already sending to as much as it may; their
    deliveries stay in the queue for a later claim, or for another replica."""
    taken = _take(
        session,
        now=now,
        limit=limit,
        lease_seconds=lease_seconds,
        skip_endpoints=skip_endpoints,
        skip_channels=skip_channels,
    )
    return load(session, taken)


_LOAD = (
    sa.select(
        D.c.id,
        D.c.attempts,
        D.c.status,
        D.c.channel,
        D.c.target,
        D.c.endpoint_id,
        D.c.assignment_id,
        E.c.message_id,
        E.c.type,
        E.c.payload,
        E.c.plan_id,
        E.c.endpoint_id.label("addressed_to"),
        WEP.c.kind,
        WEP.c.url,
        WEP.c.secret,
        WEP.c.previous_secret,
        WEP.c.previous_secret_expires_at,
        WEP.c.is_active,
        WEP.c.rate_limit_per_minute,
    )
    .join(E, E.c.id == D.c.event_id)
    .outerjoin(WEP, WEP.c.id == D.c.endpoint_id)
    .where(D.c.id.in_(sa.bindparam("ids", expanding=True, type_=sa.Integer)))
)


def load(session: Session, held: Iterable[tuple[int, int]]) -> list[Claimed]:
    """The claimed deliveries still ours (status sending, our attempt number), in claim order."""
    ours = dict(held)
    if not ours:
        return []
    rows = session.execute(_LOAD, {"ids": list(ours)}).all()
    endpoints: dict[int, Endpoint] = {}
    out: dict[int, Claimed] = {}
    for r in rows:
        # Someone else re-claimed it after our lease ran out: their attempt counts, not ours.
        if r.status != DeliveryStatus.sending or r.attempts != ours[r.id]:
            continue
        endpoint = None
        if r.endpoint_id is not None and r.url is not None:
            endpoint = endpoints.get(r.endpoint_id)
            if endpoint is None:
                endpoint = endpoints[r.endpoint_id] = Endpoint(
                    id=r.endpoint_id,
                    kind=str(r.kind),
                    url=r.url,
                    secret=r.secret,
                    previous_secret=r.previous_secret,
                    previous_secret_expires_at=_aware(r.previous_secret_expires_at),
                    is_active=bool(r.is_active),
                    rate_limit_per_minute=int(r.rate_limit_per_minute or 0),
                )
        out[r.id] = Claimed(
            id=r.id,
            attempts=r.attempts,
            channel=str(r.channel),
            target=str(r.target),
            endpoint_id=r.endpoint_id,
            message_id=str(r.message_id),
            event_type=str(r.type),
            payload=dict(r.payload or {}),
            plan_id=r.plan_id,
            addressed_to=r.addressed_to,
            endpoint=endpoint,
            assignment_id=r.assignment_id,
        )
    return [out[i] for i in ours if i in out]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def queue_stats(session: Session, *, now: datetime) -> tuple[int, float]:
    depth, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(D.c.created_at)).where(
            D.c.status.in_([str(DeliveryStatus.pending), str(DeliveryStatus.sending)])
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(depth), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
