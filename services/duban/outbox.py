from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from duban import events
from duban.events import EventData
from duban.models import Delivery, DeliveryStatus, OutboxEvent, WebhookEndpoint


def values(
    *,
    event: EventData,
    dedupe_key: str | None = None,
    now: datetime,
    plan_id: int | None = None,
    assignment_id: int | None = None,
    unit_id: int | None = None,
    endpoint_id: int | None = None,
) -> dict[str, Any]:
    """The column values of an event's outbox row (every column but the id).

    Events caused by a request use a fresh key (each is a new fact); scanner notices pass a
    deterministic key so that a repeated scan inserts nothing.
    """
    message_id = f"msg_{uuid.uuid4().hex}"
    return {
        "message_id": message_id,
        "type": event.type,
        "dedupe_key": dedupe_key or f"{event.type}:{message_id}",
        # Checked against the published schema of its type before it is written (duban.events).
        "payload": events.envelope_of(event, now=now),
        "plan_id": plan_id,
        "assignment_id": assignment_id,
        "unit_id": unit_id,
        "created_at": now,
        "fanned_out_at": None,
        "endpoint_id": endpoint_id,
    }


def enqueue(
    session: Session | None,
    *,
    event: EventData,
    dedupe_key: str | None = None,
    now: datetime,
    plan_id: int | None = None,
    assignment_id: int | None = None,
    unit_id: int | None = None,
    endpoint_id: int | None = None,
) -> OutboxEvent:
    """Add an outbox row (`values`) to the caller's transaction; the caller commits (or rolls
    back) both. Without a session the row is only built."""
    row = OutboxEvent(
        **values(
            event=event,
            dedupe_key=dedupe_key,
            now=now,
            plan_id=plan_id,
            assignment_id=assignment_id,
            unit_id=unit_id,
            endpoint_id=endpoint_id,
        )
    )
    if session is not None:
        session.add(row)
    return row


def redrive(session: Session, *, delivery: Delivery, now: datetime) -> Delivery:
    """A dead letter (or, redelivered by hand, any settled delivery) goes back to the queue with a
    fresh attempt budget (the caller commits).

    Here, not in the notifier, because the api redrives on an operator's request and never imports
    the notifier.
    """
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.lease_until = None
    session.add(delivery)
    return delivery


def subscribed(ep: WebhookEndpoint, event_type: str, unit_id: int | None, plan_id: int | None) -> bool:
    """Whether an endpoint takes an event: its scope (unit, plan) and its types (`*`, `x.*`, exact).
    The fan-out decides with it, and so does a redelivery of a time range."""
    if ep.unit_id is not None and ep.unit_id != unit_id:
        return False
    if ep.plan_id is not None and ep.plan_id != plan_id:
        return False
    types = ep.event_types or []
    if not types:
        return True
    return any(
        t == "*" or t == event_type or (t.endswith(".*") and event_type.startswith(t[:-1])) for t in types
    )
