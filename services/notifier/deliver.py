"""Fan-out of outbox events into deliveries, claiming, and delivering one at a time.

fan_out and claim are short transactions; deliver_one commits before it talks to the network and
records the outcome in a second short transaction, so no transaction is ever open during a send.
"""

from __future__ import annotations

import random
import threading
import time as _time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from duban import calendar as cal
from duban.events import DeliveryFailed
from duban.models import (
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    OutboxEvent,
    Role,
    Unit,
    UnitKind,
    User,
    WebhookEndpoint,
)
from duban.outbox import enqueue
from duban.settings import Settings
from notifier import metrics, retry
from notifier.channels import Channel, DeliveryResult, OutgoingMessage
from notifier.channels import inbox as inbox_channel
from notifier.channels.email import EmailChannel
from notifier.channels.robot import DingTalkChannel, WeComChannel
from notifier.channels.webhook import WebhookChannel
from notifier.policy import QUIET_CHANNELS, Policy, load_policies
from notifier.render import render

D = Delivery.__table__  # type: ignore[attr-defined]
E = OutboxEvent.__table__  # type: ignore[attr-defined]
DEADLINE_TYPES = {
    "assignment.due_soon",
    "assignment.overdue",
    "assignment.escalated",
    "report.due_soon",
    "report.missing",
}
# Who hears about events the API writes, when the event does not name a recipient (design table).
DEFAULT_RECIPIENT = {
    "assignment.returned": "office",
    "completion.requested": "office",
    "extension.requested": "office",
    "report.submitted": "office",
    "delivery.failed": "office",
}
# Notices about failed deliveries stay inside Duban: a failing channel must not feed itself.
INTERNAL_ONLY = {"delivery.failed"}


def _insert(session: Session, table: Any) -> Any:
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


# --- recipients


@dataclass
class Directory:
    """Active people and endpoints, loaded once per fan-out batch (they are few)."""

    users: list[tuple[int, int | None, list[str], str | None]]
    unit_kind: dict[int, str]
    unit_email: dict[int, str | None]
    endpoints: list[WebhookEndpoint]

    @classmethod
    def load(cls, session: Session) -> Directory:
        users = [
            (u.id, u.unit_id, list(u.roles or []), u.email)
            for u in session.exec(
                sa.select(User).where(
                    User.is_active.is_(True),  # type: ignore[attr-defined]
                    User.is_service_account.is_(False),
                )
            ).scalars()  # type: ignore[attr-defined]
        ]
        units = session.execute(sa.select(Unit.id, Unit.kind, Unit.contact_email)).all()  # type: ignore[call-overload]
        endpoints = list(
            session.exec(
                sa.select(WebhookEndpoint).where(  # type: ignore[call-overload]
                    WebhookEndpoint.is_active.is_(True)
                )
            ).scalars()
        )  # type: ignore[attr-defined]
        return cls(
            users=users,
            unit_kind={u.id: str(u.kind) for u in units},
            unit_email={u.id: u.contact_email for u in units},
            endpoints=endpoints,
        )

    def resolve(self, recipient: str, unit_ids: list[int]) -> tuple[list[int], list[str]]:
        """(user ids, e-mail addresses) for a recipient group."""
        picked: list[tuple[int, str | None]] = []
        emails: list[str] = []
        for uid, unit_id, roles, email in self.users:
            kind = self.unit_kind.get(unit_id or -1)
            if recipient == "unit":
                hit = unit_id in unit_ids and (Role.unit_head in roles or Role.unit_staff in roles)
            elif recipient == "unit_head":
                hit = unit_id in unit_ids and Role.unit_head in roles
            elif recipient == "office":
                hit = Role.office in roles or (kind == UnitKind.office and Role.admin not in roles)
            elif recipient == "leader":
                hit = Role.leader in roles or kind == UnitKind.leadership
            else:
                hit = False
            if hit:
                picked.append((uid, email))
        if recipient == "unit":
            emails.extend(e for u in unit_ids if (e := self.unit_email.get(u)))
        emails.extend(e for _, e in picked if e)
        return [uid for uid, _ in picked], list(dict.fromkeys(e.strip() for e in emails if e and "@" in e))

    def endpoints_for(
        self, event_type: str, unit_id: int | None, plan_id: int | None
    ) -> list[WebhookEndpoint]:
        return [ep for ep in self.endpoints if _subscribed(ep, event_type, unit_id, plan_id)]


def _subscribed(ep: WebhookEndpoint, event_type: str, unit_id: int | None, plan_id: int | None) -> bool:
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


def enrich(event_type: str, data: dict[str, Any], created_at: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Exact working-day figures as of the moment the notice was created (computed once, then stored)."""
    if event_type not in DEADLINE_TYPES or not data.get("due_date"):
        return data
    due = date.fromisoformat(str(data["due_date"]))
    data = dict(data)
    data["due_at"] = cal.end_of_day(due, zone).isoformat()
    data["working_days_overdue"] = cal.working_days_overdue(due, created_at, zone)
    today = cal.local_date(created_at, zone)
    data["working_days_left"] = (
        cal.working_days_between(today, due) + (1 if cal.is_working_day(today) else 0) if due >= today else 0
    )
    return data


# --- fan-out


@dataclass
class FanOutResult:
    events: int = 0
    deliveries: int = 0
    inbox: int = 0
    planned: list[dict[str, Any]] = field(default_factory=list)


def fan_out(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    limit: int = 500,
    policies: tuple[Policy, dict[int, Policy]] | None = None,
    commit: bool = True,
) -> FanOutResult:
    """Expand up to `limit` new outbox events into deliveries and inbox rows, in one transaction."""
    zone = ZoneInfo(settings.timezone)
    pick = sa.select(E.c.id).where(E.c.fanned_out_at.is_(None)).order_by(E.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(session.execute(pick).scalars())
    result = FanOutResult()
    if not ids:
        if commit:
            session.commit()
        return result
    default, overrides = policies if policies is not None else load_policies(session)
    directory = Directory.load(session)
    rows = session.execute(
        sa.select(E.c.id, E.c.type, E.c.payload, E.c.plan_id, E.c.unit_id, E.c.created_at)
        .where(E.c.id.in_(ids))
        .order_by(E.c.id)
    ).all()
    deliveries: list[dict[str, Any]] = []
    for row in rows:
        policy = overrides.get(row.plan_id, default) if row.plan_id is not None else default
        payload = dict(row.payload or {})
        created_at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        data = enrich(row.type, dict(payload.get("data") or {}), created_at, zone)
        if data is not payload.get("data"):
            payload["data"] = data
            session.execute(sa.update(E).where(E.c.id == row.id).values(payload=payload))
        recipient_ref = data.get("recipient") if isinstance(data.get("recipient"), dict) else {}
        recipient = str(recipient_ref.get("code") or DEFAULT_RECIPIENT.get(row.type, "unit"))
        unit_ids = [row.unit_id] if row.unit_id is not None else [int(u) for u in data.get("unit_ids") or []]
        user_ids, emails = directory.resolve(recipient, unit_ids)
        rendered = render(row.type, data)
        channels = set(policy.channels)
        if "inbox" in channels:
            result.inbox += inbox_channel.add(
                session, event_id=row.id, event_type=row.type, user_ids=user_ids, rendered=rendered, now=now
            )
        if row.type in INTERNAL_ONLY:
            continue
        quiet_until = policy.quiet_hours.ends_after(now, zone) if policy.quiet_hours else now

        def add(
            channel: ChannelKind,
            target: str,
            *,
            endpoint_id: int | None = None,
            user_id: int | None = None,
            row: Any = row,
            quiet_until: datetime = quiet_until,
        ) -> None:
            deliveries.append(
                {
                    "event_id": row.id,
                    "channel": str(channel),
                    "target": target,
                    "endpoint_id": endpoint_id,
                    "recipient_user_id": user_id,
                    "status": str(DeliveryStatus.pending),
                    "attempts": 0,
                    # Quiet hours hold chat and e-mail from the start; webhooks never wait.
                    "next_attempt_at": quiet_until if str(channel) in QUIET_CHANNELS else now,
                    "lease_until": None,
                    "last_error": None,
                    "created_at": now,
                    "sent_at": None,
                }
            )

        # No SMTP server configured: e-mail is not a channel of this installation.
        if "email" in channels and settings.smtp_host:
            for address in emails:
                add(ChannelKind.email, address[:255])
        for ep in directory.endpoints_for(row.type, row.unit_id, row.plan_id):
            kind = str(ep.kind)
            if kind in channels:
                add(ChannelKind(kind), f"endpoint:{ep.id}", endpoint_id=ep.id)
    if deliveries:
        stmt = (
            _insert(session, D)
            .values(deliveries)
            .on_conflict_do_nothing(index_elements=["event_id", "channel", "target"])
        )
        result.deliveries = session.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount or 0
        result.planned = deliveries
    session.execute(sa.update(E).where(E.c.id.in_(ids)).values(fanned_out_at=now))
    result.events = len(ids)
    if commit:
        session.commit()
    return result


# --- claiming


def claim(session: Session, *, now: datetime, limit: int, lease_seconds: int) -> list[tuple[int, int]]:
    """Take up to `limit` due deliveries (or ones whose lease expired): [(id, attempts)]. Commits.

    PostgreSQL: one UPDATE over a FOR UPDATE SKIP LOCKED subselect, so replicas get disjoint sets.
    SQLite: the same UPDATE without the locking clause is atomic under its single-writer lock.
    """
    due = sa.or_(
        sa.and_(D.c.status == str(DeliveryStatus.pending), D.c.next_attempt_at <= now),
        sa.and_(D.c.status == str(DeliveryStatus.sending), D.c.lease_until < now),
    )
    pick = sa.select(D.c.id).where(due).order_by(D.c.next_attempt_at, D.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
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


# --- delivering


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
    client: httpx.Client
    limiter: RateLimiter = field(default_factory=RateLimiter)
    policies: tuple[Policy, dict[int, Policy]] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def channel(self, kind: str, now: datetime) -> Channel:
        allow = self.settings.webhook_allow_private
        if kind == ChannelKind.webhook:
            return WebhookChannel(self.client, now=now, allow_private=allow)
        if kind == ChannelKind.dingtalk:
            return DingTalkChannel(self.client, now=now, allow_private=allow)
        if kind == ChannelKind.wecom:
            return WeComChannel(self.client, now=now, allow_private=allow)
        if kind == ChannelKind.email:
            return EmailChannel(self.settings)
        raise ValueError(f"no channel {kind}")


def make_client(settings: Settings) -> httpx.Client:
    # Well under the lease, so a hung receiver cannot outlive our claim on the message.
    timeout = min(settings.notifier_http_timeout_seconds, settings.notifier_lease_seconds / 4)
    return httpx.Client(
        timeout=timeout, limits=httpx.Limits(max_connections=64, max_keepalive_connections=32)
    )


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
    zone = ZoneInfo(settings.timezone)
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
    updated = session.execute(sa.update(D).where(*fence).values(**values)).rowcount
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


def redrive(session: Session, *, delivery: Delivery, now: datetime) -> Delivery:
    """A dead letter goes back to the queue with a fresh attempt budget (the caller commits)."""
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.lease_until = None
    session.add(delivery)
    return delivery


def queue_stats(session: Session, *, now: datetime) -> tuple[int, float]:
    depth, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(D.c.created_at)).where(
            D.c.status.in_([str(DeliveryStatus.pending), str(DeliveryStatus.sending)])
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(depth), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
