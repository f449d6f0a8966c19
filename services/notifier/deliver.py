"""Delivering one claimed delivery at a time, and recording its outcome.

deliver_one commits before it talks to the network and records the outcome in a second short
transaction, so no transaction is ever open during a send.
"""

from __future__ import annotations

import logging
import random
import time as _time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from duban import labels, links, zones
from duban.db import rowcount
from duban.events import DeliveryFailed, WebhookDisabled
from duban.models import (
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointKind,
    OutboxEvent,
    WebhookEndpoint,
)
from duban.outbox import enqueue
from duban.policy import QUIET_CHANNELS, Policy, load_policies
from duban.settings import Settings
from duban.uow import unit_of_work
from notifier import metrics, retry
from notifier.channels import Channel, DeliveryResult, OutgoingMessage
from notifier.channels.email import EmailChannel
from notifier.channels.robot import DingTalkChannel, WeComChannel
from notifier.channels.webhook import WebhookChannel
from notifier.render import render
from notifier.transport import PinnedClient, make_client

log = logging.getLogger("duban.notifier")
__all__ = ["Deliverer", "deliver_one", "make_client", "record"]

D = Delivery.__table__  # type: ignore[attr-defined]
E = OutboxEvent.__table__  # type: ignore[attr-defined]
WEP = WebhookEndpoint.__table__  # type: ignore[attr-defined]


# The robots' own limit: DingTalk and WeCom group robots take 20 messages a minute (DingTalk mutes
# a robot for 10 minutes beyond it), whatever the office sets.
ROBOT_PER_MINUTE = 20
ENDPOINT_CHANNELS = {str(ChannelKind.webhook), str(ChannelKind.dingtalk), str(ChannelKind.wecom)}


def per_minute(endpoint: WebhookEndpoint) -> int:
    """The limit in force: webhooks none unless the office set one; robots at most the platform's."""
    rate = max(0, endpoint.rate_limit_per_minute or 0)
    if str(endpoint.kind) == EndpointKind.webhook:
        return rate
    return min(rate, ROBOT_PER_MINUTE) if rate else ROBOT_PER_MINUTE


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def acquire_send_slot(session: Session, endpoint: WebhookEndpoint, *, now: datetime) -> datetime | None:
    """The endpoint's limit, counted in the database so every notifier replica shares it.

    GCRA (virtual scheduling) on one column: `next_send_at` is the theoretical time of the next
    message; a send is allowed while it lies at most `tau` ahead, and moves it on by 60/limit s.
    Robots get no burst (tau = 0: messages 60/limit s apart, never more than the platform's 20 in
    any minute); webhooks may send `limit` at once, then `limit` a minute. The move is a
    compare-and-set UPDATE on the value read — a concurrent replica's UPDATE waits for the row lock
    (SQLite: BEGIN IMMEDIATE), then matches nothing, and this one reads again.
    None: send now; otherwise the time the next slot opens.
    """
    limit = per_minute(endpoint)
    if limit <= 0:
        return None
    interval = timedelta(seconds=60.0 / limit)
    tau = interval * (limit - 1) if str(endpoint.kind) == EndpointKind.webhook else timedelta(0)
    for _ in range(8):
        old = _aware(
            session.execute(sa.select(WEP.c.next_send_at).where(WEP.c.id == endpoint.id)).scalar_one_or_none()
        )
        tat = max(old, now) if old is not None else now
        if tat - now > tau:
            return tat - tau
        same = WEP.c.next_send_at.is_(None) if old is None else WEP.c.next_send_at == old
        moved = session.execute(
            sa.update(WEP).where(WEP.c.id == endpoint.id, same).values(next_send_at=tat + interval)
        )
        if rowcount(moved):
            return None
    return now  # contended throughout: due again at the next claim


@dataclass
class Deliverer:
    """What deliver_one needs besides the session: settings, HTTP client, policies."""

    settings: Settings
    client: PinnedClient
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
            E.c.endpoint_id.label("addressed_to"),
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
        endpoint = session.get(WebhookEndpoint, row.endpoint_id, populate_existing=True)
        # A test ping reaches a disabled endpoint too: that is how the office checks it is back.
        addressed = row.addressed_to is not None and row.addressed_to == row.endpoint_id
        if endpoint is None or not (endpoint.is_active or addressed):
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
        wait_until = acquire_send_slot(session, endpoint, now=now)
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
        previous_secret=_previous_secret(endpoint, now),
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
        endpoint=endpoint,
        url=target,
    )


def _previous_secret(endpoint: WebhookEndpoint | None, now: datetime) -> str | None:
    """The rotated-out secret while its overlap lasts (both signatures are sent)."""
    if endpoint is None or not endpoint.previous_secret or endpoint.previous_secret_expires_at is None:
        return None
    until = endpoint.previous_secret_expires_at
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return endpoint.previous_secret if until > now else None


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
    endpoint: WebhookEndpoint | None = None,
    url: str | None = None,
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
            url=url[:1000] if url else None,
            request_headers=result.request_headers,
            request_body=result.request_body,
            response_headers=result.response_headers,
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
                schedule=retry.ENDPOINT_SCHEDULE if channel in ENDPOINT_CHANNELS else None,
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
    if endpoint is not None and endpoint.id is not None and updated:
        _endpoint_health(session, endpoint, result, now=now, settings=settings)
    session.commit()
    metrics.DELIVERIES.labels(channel, outcome).inc()
    return outcome


def _endpoint_health(
    session: Session, endpoint: WebhookEndpoint, result: DeliveryResult, *, now: datetime, settings: Settings
) -> None:
    """A success ends a failure streak; 410 Gone, or failing for the whole window, disables."""
    ep = WEP.c
    if result.ok:
        session.execute(
            sa.update(WEP)
            .where(ep.id == endpoint.id, ep.failing_since.is_not(None))
            .values(failing_since=None)
        )
        return
    session.execute(
        sa.update(WEP).where(ep.id == endpoint.id, ep.failing_since.is_(None)).values(failing_since=now)
    )
    since = session.execute(sa.select(ep.failing_since).where(ep.id == endpoint.id)).scalar_one_or_none()
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    window = timedelta(hours=settings.webhook_disable_after_hours)
    if result.status_code == 410:
        reason = "接收方返回 410 Gone（地址已不再接收消息）"
    elif since is not None and now - since >= window:
        reason = f"连续投递失败已超过{labels.hours_text(settings.webhook_disable_after_hours)}"
    else:
        return
    disabled = session.execute(
        sa.update(WEP)
        .where(ep.id == endpoint.id, ep.is_active.is_(True))
        .values(
            is_active=False, disabled_at=now, disabled_reason=reason, version=ep.version + 1, updated_at=now
        )
    )
    if not rowcount(disabled):
        return  # already disabled (by another replica, or a ping to a disabled endpoint failed)
    log.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.id, "reason": reason})
    # Audited as the system's act, and told to the office (inbox and e-mail) through the outbox.
    with unit_of_work(session, actor=None, now=now) as uow:
        uow.record(
            action="webhook.disable",
            entity_type="webhook_endpoint",
            entity_id=endpoint.id,
            before={"is_active": True, "failing_since": since.isoformat() if since else None},
            after={"is_active": False, "disabled_reason": reason},
        )
        uow.emit(
            WebhookDisabled(
                endpoint_id=endpoint.id or 0, url=endpoint.url, reason=reason, failing_since=since
            ),
            dedupe_key=f"webhook.disabled:{endpoint.id}:{now.isoformat()}",
        )
