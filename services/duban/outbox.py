from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session

from duban import events
from duban.events import EventData
from duban.models import Delivery, DeliveryStatus, OutboxEvent


def enqueue(
    session: Session,
    *,
    event: EventData,
    dedupe_key: str | None = None,
    now: datetime,
    plan_id: int | None = None,
    assignment_id: int | None = None,
    unit_id: int | None = None,
) -> OutboxEvent:
    """Add an outbox row to the caller's transaction; the caller commits (or rolls back) both.

    Events caused by a request use a fresh key (each is a new fact); scanner notices pass a
    deterministic key so that a repeated scan inserts nothing.
    """
    message_id = f"msg_{uuid.uuid4().hex}"
    row = OutboxEvent(
        message_id=message_id,
        type=event.type,
        dedupe_key=dedupe_key or f"{event.type}:{message_id}",
        # Checked against the published schema of its type before it is written (duban.events).
        payload=events.envelope_of(event, now=now),
        plan_id=plan_id,
        assignment_id=assignment_id,
        unit_id=unit_id,
        created_at=now,
    )
    session.add(row)
    return row


def redrive(session: Session, *, delivery: Delivery, now: datetime) -> Delivery:
    """A dead letter goes back to the queue with a fresh attempt budget (the caller commits).

    Here, not in the notifier, because the api redrives on an operator's request and never imports
    the notifier.
    """
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.lease_until = None
    session.add(delivery)
    return delivery
