"""Delivering one claimed delivery at a time, and recording its outcome.

deliver_one commits before it talks to the network and records the outcome in a second short
transaction, so no transaction is ever open during a send.
"""

from __future__ import annotations

import random
import threading
import time as _time
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from duban import links, zones
from duban.db import rowcount
from duban.events import DeliveryFailed
from duban.models import (
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    OutboxEvent,
    WebhookEndpoint,
)
from duban.outbox import enqueue
from duban.policy import QUIET_CHANNELS, Policy, load_policies
from duban.settings import Settings
from notifier import metrics, retry
from notifier.channels import Channel, DeliveryResult, OutgoingMessage
from notifier.channels.email import EmailChannel
from notifier.channels.robot import DingTalkChannel, WeComChannel
from notifier.channels.webhook import WebhookChannel
from notifier.render import render
from notifier.transport import PinnedClient, make_client

__all__ = ["Deliverer", "deliver_one", "make_client", "record"]

D = Delivery.__table__  # type: ignore[attr-defined]
E = OutboxEvent.__table__  # type: ignore[attr-defined]


class RateLimiter:
    """Per-endpoint sliding one-minute window, in this process (each replica enforces its share)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[int, deque[datetime]] = defaultdict(deque)

    def acquire(self, endpoint_id: int, per_minute: int, now: datetime) -> datetime | None:
        """None when a send may go now (and is counted); otherwise when the window has room."""
        if per_minute <= 0:
            return None
        with self._lock:
            window = self._sent[endpoint_id]
            while window and window[0] <= now - timedelta(minutes=1):
                window.popleft()
            if len(window) >= per_minute:
                return window[0] + timedelta(minutes=1)
            window.append(now)
            return None


@dataclass
class Deliverer:
    """What deliver_one needs besides the session: settings, HTTP client, limiter, policies."""

    settings: Settings
    client: PinnedClient
    limiter: RateLimiter = field(default_factory=RateLimiter)
    policies: tuple[Policy, dict[int, Policy]] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def channel(self, kind: str, now: datetime) -> Channel:
        s = self.settings
        if kind == ChannelKind.webhook:
            return WebhookChannel(self.client, now=now, settings=s)
        if kind == ChannelKind.dingtalk:
            return DingTalkChannel(self.client, now=now, settings=s)
        if kind == ChannelKind.wecom:
            return WeComChannel(self.client, now=now, settings=s)
        if kind == ChannelKind.email:
            return EmailChannel(self.settings)
        raise ValueError(f"no channel {kind}")


def _release(session: Session, delivery_id: int, attempts: int, until: datetime, note: str) -> None:
    """Put a claimed delivery back without counting an attempt (quiet hours, rate limit)."""
    session.execute(
        sa.update(D)
        .where(D.c.id == delivery_id, D.c.attempts == attempts, D.c.status == str(DeliveryStatus.sending))
        .values(
            status=str(DeliveryStatus.pending),
            attempts=attempts - 1,
            next_attempt_at=until,
            lease_until=None,
            last_error=note,
        )
    )
    session.commit()


def deliver_one(
    session: Session, delivery_id: int, attempts: int, *, now: datetime, deliverer: Deliverer
) -> str:
    """Deliver one claimed delivery; returns sent / retry / failed / held / throttled / skipped / lost."""
    settings = deliverer.settings
    zone = zones.default(settings)
    row = session.execute(
        sa.select(
            D.c.id,
            D.c.channel,
            D.c.target,
            D.c.endpoint_id,
            D.c.status,
            D.c.attempts,
            E.c.message_id,
            E.c.type,
            E.c.payload,
            E.c.plan_id,
        )
        .join(E, E.c.id == D.c.event_id)
        .where(D.c.id == delivery_id)
    ).first()
    # Someone else re-claimed it after our lease ran out: their attempt counts, not ours.
    if row is None or row.status != DeliveryStatus.sending or row.attempts != attempts:
        session.commit()
        return "lost"
    channel = str(row.channel)
    default, overrides = deliverer.policies if deliverer.policies is not None else load_policies(session)
    policy = overrides.get(row.plan_id, default) if row.plan_id is not None else default
    if channel in QUIET_CHANNELS and policy.quiet_hours is not None:
        until = policy.quiet_hours.ends_after(now, zone)
        if until > now:
            _release(session, delivery_id, attempts, until, "quiet hours")
            return "held"
    endpoint: WebhookEndpoint | None = None
    if row.endpoint_id is not None:
        endpoint = session.get(WebhookEndpoint, row.endpoint_id)
        if endpoint is None or not endpoint.is_active:
            session.execute(
                sa.update(D)
                .where(D.c.id == delivery_id)
                .values(
                    status=str(DeliveryStatus.skipped),
                    lease_until=None,
                    last_error="endpoint disabled or deleted",
                )
            )
            session.commit()
            return "skipped"
        wait_until = deliverer.limiter.acquire(endpoint.id or 0, endpoint.rate_limit_per_minute, now)
        if wait_until is not None:
            _release(session, delivery_id, attempts, wait_until, "rate limited")
            return "throttled"
    payload = dict(row.payload or {})
    data = payload.get("data") or {}
    rendered = render(str(row.type), data)
    # Mail and chat are read outside the workbench: the event's page path becomes an address.
    rendered = replace(rendered, link=links.absolute(rendered.link, settings.public_url))
    target = endpoint.url if endpoint is not None else str(row.target)
    message = OutgoingMessage(
        message_id=str(row.message_id),
        event_type=str(row.type),
        payload=payload,
        target=target,
        secret=endpoint.secret if endpoint is not None else None,
        title=rendered.title,
        text=rendered.text,
        markdown=rendered.markdown,
    )
    # No transaction stays open while we wait on the network.
    session.commit()
    started = _time.perf_counter()
    try:
        result = deliverer.channel(channel, now).send(message)
    except Exception as exc:  # a channel bug must not lose the message: record and retry
        result = DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    duration_ms = int((_time.perf_counter() - started) * 1000)
    metrics.DELIVERY_SECONDS.labels(channel).observe(duration_ms / 1000)
    return record(
        session,
        delivery_id,
        attempts,
        result,
        now=now,
        duration_ms=duration_ms,
        deliverer=deliverer,
        event_type=str(row.type),
        channel=channel,
    )


def record(
    session: Session,
    delivery_id: int,
    attempts: int,
    result: DeliveryResult,
    *,
    now: datetime,
    duration_ms: int,
    deliverer: Deliverer,
    event_type: str,
    channel: str,
) -> str:
    settings = deliverer.settings
    if session.get_bind().dialect.name == "postgresql":
        # Losing this record in a crash only means one more delivery of the same webhook-id, which
        # at-least-once allows; not waiting for a WAL flush per message lifts throughput.
        session.execute(sa.text("SET LOCAL synchronous_commit = off"))
    session.add(
        DeliveryAttempt(
            delivery_id=delivery_id,
            attempt=attempts,
            started_at=now,
            duration_ms=duration_ms,
            succeeded=result.ok,
            status_code=result.status_code,
            response_excerpt=(result.response_excerpt or None) and result.response_excerpt[:2048],
            error=result.error and result.error[:2000],
        )
    )
    fence = (D.c.id == delivery_id, D.c.attempts == attempts, D.c.status == str(DeliveryStatus.sending))
    if result.ok:
        outcome = "sent"
        values: dict[str, Any] = {
            "status": str(DeliveryStatus.sent),
            "sent_at": now,
            "lease_until": None,
            "last_error": None,
        }
    else:
        when = (
            retry.next_attempt_at(
                attempts,
                now,
                max_attempts=settings.notifier_max_attempts,
                jitter=deliverer.rng.random(),
                retry_after=result.retry_after,
            )
            if result.retryable
            else None
        )
        if when is None:
            outcome = "failed"
            values = {"status": str(DeliveryStatus.failed), "lease_until": None, "last_error": result.error}
        else:
            outcome = "retry"
            values = {
                "status": str(DeliveryStatus.pending),
                "next_attempt_at": when,
                "lease_until": None,
                "last_error": result.error,
            }
    updated = rowcount(session.execute(sa.update(D).where(*fence).values(**values)))
    if outcome == "failed" and updated:
        enqueue(
            session,
            event=DeliveryFailed(
                delivery_id=delivery_id,
                event_type=event_type,
                channel=channel,
                error=(result.error or "")[:500],
            ),
            dedupe_key=f"delivery.failed:{delivery_id}:{attempts}",
            now=now,
        )
    session.commit()
    metrics.DELIVERIES.labels(channel, outcome).inc()
    return outcome
