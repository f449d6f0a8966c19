"""Delivering claimed deliveries a batch at a time: prepare, send, record.

A batch is claimed and prepared (quiet hours, disabled endpoints, rate limits) in one transaction,
which commits before anything is sent; its sends run on the runner's threads with no transaction
open; its outcomes are recorded in one more transaction (attempts in one INSERT, the deliveries in
one fenced UPDATE, each endpoint's health once). deliver_one is the same path for one delivery.
"""

from __future__ import annotations

import logging
import random
import time as _time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from duban import labels, links, zones
from duban.db import rowcount
from duban.events import DeliveryFailed, WebhookDisabled
from duban.models import ChannelKind, Delivery, DeliveryAttempt, DeliveryStatus, EndpointKind, WebhookEndpoint
from duban.policy import QUIET_CHANNELS, Policy, load_policies
from duban.settings import Settings
from duban.uow import UnitOfWork, unit_of_work
from duban.urlsafety import UnsafeUrl
from notifier import claim, metrics, retry
from notifier.channels import Channel, DeliveryResult, OutgoingMessage
from notifier.channels.email import EmailChannel
from notifier.channels.robot import DingTalkChannel, WeComChannel
from notifier.channels.webhook import WebhookChannel, refused
from notifier.claim import Claimed, Endpoint
from notifier.render import render
from notifier.transport import PinnedClient, make_client

log = logging.getLogger("duban.notifier")
__all__ = ["Batch", "Deliverer", "Job", "deliver_batch", "deliver_one", "make_client", "prepare", "record"]

D = Delivery.__table__  # type: ignore[attr-defined]
DA = DeliveryAttempt.__table__  # type: ignore[attr-defined]
WEP = WebhookEndpoint.__table__  # type: ignore[attr-defined]


# The robots' own limit: DingTalk and WeCom group robots take 20 messages a minute (DingTalk mutes
# a robot for 10 minutes beyond it), whatever the office sets.
ROBOT_PER_MINUTE = 20
ENDPOINT_CHANNELS = {str(ChannelKind.webhook), str(ChannelKind.dingtalk), str(ChannelKind.wecom)}
# A send put back unsent (it waited too long behind its endpoint's cap) is due again after this.
DEFER = timedelta(seconds=5)
# Multi-row statements stay well under both databases' bound-parameter limits.
CHUNK = 500


class _Limited(Protocol):
    @property
    def kind(self) -> Any: ...
    @property
    def rate_limit_per_minute(self) -> int | None: ...


def per_minute(endpoint: _Limited) -> int:
    """The limit in force: webhooks none unless the office set one; robots at most the platform's."""
    rate = max(0, endpoint.rate_limit_per_minute or 0)
    if str(endpoint.kind) == EndpointKind.webhook:
        return rate
    return min(rate, ROBOT_PER_MINUTE) if rate else ROBOT_PER_MINUTE


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def acquire_send_slots(
    session: Session, endpoint: Endpoint, wanted: int, *, now: datetime
) -> tuple[int, list[datetime]]:
    """Up to `wanted` sends to the endpoint now, under its limit, counted in the database so every
    notifier replica shares it: (granted, when each refused one's slot opens, in order).

    GCRA (virtual scheduling) on one column: `next_send_at` is the theoretical time of the next
    message; a send is allowed while it lies at most `tau` ahead, and moves it on by 60/limit s.
    Robots get no burst (tau = 0: messages 60/limit s apart, never more than the platform's 20 in
    any minute); webhooks may send `limit` at once, then `limit` a minute. A batch takes its k slots
    with one compare-and-set UPDATE on the value read — a concurrent replica's UPDATE waits for the
    row lock (SQLite: BEGIN IMMEDIATE), then matches nothing, and this one reads again.
    """
    limit = per_minute(endpoint)
    if limit <= 0 or wanted <= 0:
        return wanted, []
    interval = timedelta(seconds=60.0 / limit)
    tau = interval * (limit - 1) if str(endpoint.kind) == EndpointKind.webhook else timedelta(0)
    for _ in range(8):
        old = _aware(
            session.execute(sa.select(WEP.c.next_send_at).where(WEP.c.id == endpoint.id)).scalar_one_or_none()
        )
        tat = max(old, now) if old is not None else now
        room = tau - (tat - now)
        granted = 0 if room < timedelta(0) else min(wanted, room // interval + 1)
        # The refused ones are told their own slots, one interval apart, not all the same instant.
        first_free = tat + interval * granted - tau
        waits = [first_free + interval * k for k in range(wanted - granted)]
        if not granted:
            return 0, waits
        same = WEP.c.next_send_at.is_(None) if old is None else WEP.c.next_send_at == old
        moved = session.execute(
            sa.update(WEP).where(WEP.c.id == endpoint.id, same).values(next_send_at=tat + interval * granted)
        )
        if rowcount(moved):
            return granted, waits
    return 0, [now] * wanted  # contended throughout: due again at the next claim


@dataclass
class Deliverer:
    """What a batch needs besides the session: settings, the HTTP client, a random source."""

    settings: Settings
    client: PinnedClient
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


@dataclass
class Job:
    """One send of a batch; `result` is None until it went (or when it was put back unsent)."""

    delivery: Claimed
    message: OutgoingMessage
    url: str
    # Sends sharing a key share the per-endpoint concurrency cap: the endpoint, or the SMTP server.
    key: str
    # None after the batch's sends: put back unsent (it waited so long behind its endpoint's cap
    # that the lease could run out during the send).
    result: DeliveryResult | None = None
    duration_ms: int = 0
    # The claim's time (the webhook-timestamp, the attempt's start) and, for the runner's pipeline,
    # the monotonic time after which the send must not begin.
    now: datetime | None = None
    send_by: float = float("inf")


@dataclass
class Batch:
    jobs: list[Job] = field(default_factory=list)
    # Settled without a send (held, throttled, skipped), already written in the claim's transaction.
    outcomes: list[str] = field(default_factory=list)


_SETTLED = ("id", "attempts", "status", "new_attempts", "next_attempt_at", "sent_at", "last_error")


def _settled_rows_pg() -> Any:
    """PostgreSQL: the rows as one array per column, unnested — a statement of constant shape,
    compiled once, whatever the batch's size."""
    arrays = [
        sa.bindparam("ids", type_=postgresql.ARRAY(sa.Integer)),
        sa.bindparam("attempts", type_=postgresql.ARRAY(sa.Integer)),
        sa.bindparam("statuses", type_=postgresql.ARRAY(sa.String)),
        sa.bindparam("new_attempts", type_=postgresql.ARRAY(sa.Integer)),
        sa.bindparam("next_attempt_ats", type_=postgresql.ARRAY(sa.DateTime(timezone=True))),
        sa.bindparam("sent_ats", type_=postgresql.ARRAY(sa.DateTime(timezone=True))),
        sa.bindparam("last_errors", type_=postgresql.ARRAY(sa.String)),
    ]
    return sa.func.unnest(*arrays).table_valued(*_SETTLED).render_derived(name="settled")


def _settle_stmt(v: Any) -> Any:
    return (
        sa.update(D)
        .where(D.c.id == v.c.id, D.c.attempts == v.c.attempts, D.c.status == str(DeliveryStatus.sending))
        .values(
            status=v.c.status,
            attempts=v.c.new_attempts,
            next_attempt_at=sa.func.coalesce(v.c.next_attempt_at, D.c.next_attempt_at),
            sent_at=sa.func.coalesce(v.c.sent_at, D.c.sent_at),
            lease_until=None,
            last_error=v.c.last_error,
        )
        .returning(D.c.id)
    )


_SETTLE_PG = _settle_stmt(_settled_rows_pg())

# delivery_attempt's columns as record writes them.
_ATTEMPT = (
    ("delivery_id", sa.Integer),
    ("attempt", sa.Integer),
    ("started_at", sa.DateTime(timezone=True)),
    ("duration_ms", sa.Integer),
    ("succeeded", sa.Boolean),
    ("status_code", sa.Integer),
    ("response_excerpt", sa.String),
    ("error", sa.String),
    ("url", sa.String),
    ("request_headers", postgresql.JSON),
    ("request_body", sa.String),
    ("response_headers", postgresql.JSON),
)


def _attempts_pg() -> Any:
    """PostgreSQL: a batch's attempts in one INSERT … SELECT from one JSON parameter (an
    executemany runs one INSERT per row on the server; text arrays of bodies and headers cost
    psycopg a regex escape per quote), parsed by json_to_recordset."""
    names = [n for n, _ in _ATTEMPT]
    rows = (
        sa.func.json_to_recordset(sa.bindparam("rows", type_=sa.String).cast(postgresql.JSON))
        .table_valued(*(sa.column(n, t) for n, t in _ATTEMPT))
        .render_derived(name="a", with_types=True)
    )
    return sa.insert(DA).from_select(names, sa.select(*(rows.c[n] for n in names)))


_ATTEMPTS_PG = _attempts_pg()


def _insert_attempts(session: Session, rows: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        # executemany: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues"), compiled once.
        session.execute(sa.insert(DA), rows)
        return
    # orjson writes the instants as RFC 3339 (naive ones as UTC), which timestamptz reads exactly.
    session.execute(_ATTEMPTS_PG, {"rows": orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()})


def _fenced(session: Session, rows: list[dict[str, Any]]) -> set[int]:
    """Settle deliveries in one UPDATE, each row only while the delivery is still ours (its id, our
    attempt number, status sending): the ids it changed.

    Row keys: id, attempts (ours), status, new_attempts, next_attempt_at, sent_at, last_error; a
    None next_attempt_at or sent_at keeps the column as it is.
    """
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        params = {
            name: [r[key] for r in rows]
            for name, key in zip(
                (
                    "ids",
                    "attempts",
                    "statuses",
                    "new_attempts",
                    "next_attempt_ats",
                    "sent_ats",
                    "last_errors",
                ),
                _SETTLED,
                strict=True,
            )
        }
        return {int(i) for i in session.execute(_SETTLE_PG, params).scalars()}
    matched: set[int] = set()
    for start in range(0, len(rows), CHUNK):
        # SQLite: a VALUES list (as a CTE: SQLite names no columns of a VALUES in FROM).
        v = (
            sa.values(
                sa.column("id", sa.Integer),
                sa.column("attempts", sa.Integer),
                sa.column("status", sa.String),
                sa.column("new_attempts", sa.Integer),
                sa.column("next_attempt_at", D.c.next_attempt_at.type),
                sa.column("sent_at", D.c.sent_at.type),
                sa.column("last_error", sa.String),
                name="settled",
            )
            .data([tuple(r[c] for c in _SETTLED) for r in rows[start : start + CHUNK]])
            .cte("settled")
        )
        matched.update(int(i) for i in session.execute(_settle_stmt(v)).scalars())
    return matched


def _release(d: Claimed, until: datetime, note: str) -> dict[str, Any]:
    """Back to the queue without counting an attempt (quiet hours, rate limit, a long wait)."""
    return {
        "id": d.id,
        "attempts": d.attempts,
        "status": str(DeliveryStatus.pending),
        "new_attempts": d.attempts - 1,
        "next_attempt_at": until,
        "sent_at": None,
        "last_error": note,
    }


def _previous_secret(endpoint: Endpoint | None, now: datetime) -> str | None:
    """The rotated-out secret while its overlap lasts (both signatures are sent)."""
    if endpoint is None or not endpoint.previous_secret or endpoint.previous_secret_expires_at is None:
        return None
    return endpoint.previous_secret if endpoint.previous_secret_expires_at > now else None


def prepare(
    session: Session,
    claimed: Sequence[Claimed],
    *,
    now: datetime,
    deliverer: Deliverer,
    policies: tuple[Policy, dict[int, Policy]] | None = None,
) -> Batch:
    """Quiet hours, disabled endpoints and rate limits for a claimed batch, written in the caller's
    transaction (the caller commits before sending); the rest become jobs with their messages."""
    settings = deliverer.settings
    zone = zones.default(settings)
    default, overrides = policies if policies is not None else load_policies(session)
    batch = Batch()
    settled: list[dict[str, Any]] = []
    settled_outcome: dict[int, str] = {}
    going: list[Claimed] = []
    for d in claimed:
        policy = overrides.get(d.plan_id, default) if d.plan_id is not None else default
        if d.channel in QUIET_CHANNELS and policy.quiet_hours is not None:
            until = policy.quiet_hours.ends_after(now, zone)
            if until > now:
                settled.append(_release(d, until, "quiet hours"))
                settled_outcome[d.id] = "held"
                continue
        if d.endpoint_id is not None:
            ep = d.endpoint
            # A test ping reaches a disabled endpoint too: that is how the office checks it is back.
            addressed = d.addressed_to is not None and d.addressed_to == d.endpoint_id
            if ep is None or not (ep.is_active or addressed):
                settled.append(
                    {
                        "id": d.id,
                        "attempts": d.attempts,
                        "status": str(DeliveryStatus.skipped),
                        "new_attempts": d.attempts,
                        "next_attempt_at": None,
                        "sent_at": None,
                        "last_error": "endpoint disabled or deleted",
                    }
                )
                settled_outcome[d.id] = "skipped"
                continue
        going.append(d)
    # Rate limits: each limited endpoint's slots for this batch in one compare-and-set.
    by_endpoint: dict[int, tuple[Endpoint, list[Claimed]]] = {}
    for d in going:
        if d.endpoint is not None and per_minute(d.endpoint) > 0:
            by_endpoint.setdefault(d.endpoint.id, (d.endpoint, []))[1].append(d)
    throttled: set[int] = set()
    for endpoint, group in by_endpoint.values():
        granted, waits = acquire_send_slots(session, endpoint, len(group), now=now)
        for d, until in zip(group[granted:], waits, strict=True):
            settled.append(_release(d, until, "rate limited"))
            settled_outcome[d.id] = "throttled"
            throttled.add(d.id)
    if settled:
        matched = _fenced(session, settled)
        batch.outcomes = [settled_outcome[r["id"]] if r["id"] in matched else "lost" for r in settled]
    for d in going:
        if d.id not in throttled:
            batch.jobs.append(_job(d, now=now, settings=settings))
    return batch


def _job(d: Claimed, *, now: datetime, settings: Settings) -> Job:
    ep = d.endpoint
    target = ep.url if ep is not None else d.target
    message = OutgoingMessage(
        message_id=d.message_id,
        event_type=d.event_type,
        payload=d.payload,
        target=target,
        secret=ep.secret if ep is not None else None,
        previous_secret=_previous_secret(ep, now),
    )
    key = f"endpoint:{ep.id}" if ep is not None else d.channel
    if d.channel != ChannelKind.webhook:
        # Webhooks carry the JSON envelope; mail and chat carry text people read, with the event's
        # page path as an address (they are read outside the workbench).
        try:
            rendered = render(d.event_type, dict(d.payload.get("data") or {}))
        except Exception as exc:  # one odd payload must not stop its batch: retried, then dead-lettered
            log.exception("rendering delivery %s failed", d.id)
            error = DeliveryResult(ok=False, error=f"render: {type(exc).__name__}: {exc}")
            return Job(delivery=d, message=message, url=target, key=key, result=error, now=now)
        rendered = replace(rendered, link=links.absolute(rendered.link, settings.public_url))
        message = replace(message, title=rendered.title, text=rendered.text, markdown=rendered.markdown)
    return Job(delivery=d, message=message, url=target, key=key, now=now)


def vet(jobs: Iterable[Job], deliverer: Deliverer) -> None:
    """Resolve, check and pin each distinct endpoint URL of a batch once (not per post); a refused
    URL fails its jobs without a connection. Network work: no transaction may be open."""
    verdicts: dict[str, str | None] = {}
    for job in jobs:
        if job.delivery.endpoint is None or job.result is not None:
            continue
        url = job.url
        if url not in verdicts:
            try:
                deliverer.client.vet(url, deliverer.settings)
                verdicts[url] = None
            except UnsafeUrl as exc:
                verdicts[url] = f"{exc.code}: {exc.message}"
        error = verdicts[url]
        if error is None:
            job.message.vetted = True
        else:
            job.result = refused(error)


def send(job: Job, deliverer: Deliverer, *, now: datetime) -> None:
    """One send, on a worker thread; a channel bug must not lose the message: record and retry."""
    if job.result is not None:
        return  # refused by vet
    started = _time.perf_counter()
    try:
        job.result = deliverer.channel(job.delivery.channel, now).send(job.message)
    except Exception as exc:
        job.result = DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    job.duration_ms = int((_time.perf_counter() - started) * 1000)
    metrics.DELIVERY_SECONDS.labels(job.delivery.channel).observe(job.duration_ms / 1000)


def _settlement(job: Job, *, now: datetime, deliverer: Deliverer) -> tuple[str, dict[str, Any]]:
    d, result = job.delivery, job.result
    if result is None:
        # Due again shortly, not at once: the pass that put it back must not claim it straight away.
        return "deferred", _release(d, now + DEFER, "queued behind its endpoint's other sends; sent later")
    row: dict[str, Any] = {"id": d.id, "attempts": d.attempts, "new_attempts": d.attempts}
    if result.ok:
        return "sent", row | {
            "status": str(DeliveryStatus.sent),
            "next_attempt_at": None,
            "sent_at": job.now or now,
            "last_error": None,
        }
    settings = deliverer.settings
    when = (
        retry.next_attempt_at(
            d.attempts,
            now,
            max_attempts=settings.notifier_max_attempts,
            jitter=deliverer.rng.random(),
            retry_after=result.retry_after,
            schedule=retry.ENDPOINT_SCHEDULE if d.channel in ENDPOINT_CHANNELS else None,
        )
        if result.retryable
        else None
    )
    error = result.error and result.error[:2000]
    if when is None:
        return "failed", row | {
            "status": str(DeliveryStatus.failed),
            "next_attempt_at": None,
            "sent_at": None,
            "last_error": error,
        }
    return "retry", row | {
        "status": str(DeliveryStatus.pending),
        "next_attempt_at": when,
        "sent_at": None,
        "last_error": error,
    }


def _attempt_row(job: Job, now: datetime) -> dict[str, Any]:
    result = job.result
    assert result is not None
    return {
        "delivery_id": job.delivery.id,
        "attempt": job.delivery.attempts,
        "started_at": job.now or now,
        "duration_ms": job.duration_ms,
        "succeeded": result.ok,
        "status_code": result.status_code,
        "response_excerpt": (result.response_excerpt or None) and result.response_excerpt[:2048],
        "error": result.error and result.error[:2000],
        "url": job.url[:1000] if job.url else None,
        "request_headers": result.request_headers,
        "request_body": result.request_body,
        "response_headers": result.response_headers,
    }


def record(session: Session, jobs: Sequence[Job], *, now: datetime, deliverer: Deliverer) -> list[str]:
    """The outcomes of a batch's sends in one transaction (committed here): the attempts in one
    INSERT, the deliveries in one fenced UPDATE (one whose lease another replica took is `lost`:
    its attempt is logged, its state is not touched), each endpoint's health once, dead letters
    told to the office and endpoints disabled through the unit of work. Outcome per job."""
    if not jobs:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # Losing this record in a crash only means one more delivery of the same webhook-id, which
        # at-least-once allows; not waiting for a WAL flush per batch lifts throughput.
        session.execute(sa.text("SET LOCAL synchronous_commit = off"))
    planned = [_settlement(job, now=now, deliverer=deliverer) for job in jobs]
    with unit_of_work(session, actor=None, now=now) as uow:
        matched = _fenced(session, [row for _, row in planned])
        sent = [job for job in jobs if job.result is not None]
        lost = [job.delivery.id for job in sent if job.delivery.id not in matched]
        if lost:
            # Re-claimed by another replica (still there: its log takes our attempt too) or deleted.
            still = sa.select(D.c.id).where(D.c.id.in_(lost))
            if session.get_bind().dialect.name == "postgresql":
                still = still.with_for_update(key_share=True)
            existing = set(session.execute(still).scalars())
        else:
            existing = set()
        attempts = [_attempt_row(job, now) for job in sent if job.delivery.id in matched | existing]
        if attempts:
            _insert_attempts(session, attempts)
        outcomes: list[str] = []
        health: dict[int, tuple[Endpoint, list[DeliveryResult]]] = {}
        for job, (outcome, _row) in zip(jobs, planned, strict=True):
            d = job.delivery
            if d.id not in matched:
                outcome = "lost"
            elif job.result is not None:
                if outcome == "failed":
                    uow.emit(
                        DeliveryFailed(
                            delivery_id=d.id,
                            event_type=d.event_type,
                            channel=d.channel,
                            error=(job.result.error or "")[:500],
                        ),
                        # Once per dead letter: the fence lets one replica settle it; a redriven
                        # one that fails again is a new dead letter.
                        dedupe_key=f"delivery.failed:{d.id}:{d.attempts}:{now.isoformat()}",
                    )
                if d.endpoint is not None:
                    health.setdefault(d.endpoint.id, (d.endpoint, []))[1].append(job.result)
            outcomes.append(outcome)
        for endpoint, results in health.values():
            _endpoint_health(session, uow, endpoint, results, now=now, settings=deliverer.settings)
    for job, outcome in zip(jobs, outcomes, strict=True):
        metrics.DELIVERIES.labels(job.delivery.channel, outcome).inc()
    return outcomes


def _endpoint_health(
    session: Session,
    uow: UnitOfWork,
    endpoint: Endpoint,
    results: list[DeliveryResult],
    *,
    now: datetime,
    settings: Settings,
) -> None:
    """Once per endpoint per batch: a success ends a failure streak (a batch of only failures
    starts or extends one); 410 Gone, or failing for the whole window, disables."""
    ep = WEP.c
    gone = any(r.status_code == 410 for r in results)
    since: datetime | None = None
    if any(r.ok for r in results):
        session.execute(
            sa.update(WEP)
            .where(ep.id == endpoint.id, ep.failing_since.is_not(None))
            .values(failing_since=None)
        )
        if not gone:
            return
    else:
        since = _aware(
            session.execute(
                sa.update(WEP)
                .where(ep.id == endpoint.id)
                .values(
                    failing_since=sa.func.coalesce(ep.failing_since, sa.literal(now, ep.failing_since.type))
                )
                .returning(ep.failing_since)
            ).scalar_one_or_none()
        )
    window = timedelta(hours=settings.webhook_disable_after_hours)
    if gone:
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
    uow.record(
        action="webhook.disable",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        before={"is_active": True, "failing_since": since.isoformat() if since else None},
        after={"is_active": False, "disabled_reason": reason},
    )
    uow.emit(
        WebhookDisabled(endpoint_id=endpoint.id, url=endpoint.url, reason=reason, failing_since=since),
        dedupe_key=f"webhook.disabled:{endpoint.id}:{now.isoformat()}",
    )


def deliver_batch(
    session: Session,
    claimed: Sequence[Claimed],
    *,
    now: datetime,
    deliverer: Deliverer,
    run: Callable[[Callable[[Job], None], list[Job]], None] | None = None,
) -> list[str]:
    """Prepare (and commit), send, record one claimed batch in `session`; `run` sends the jobs (by
    default one after another). The runner pipelines these steps across batches itself."""
    batch = prepare(session, claimed, now=now, deliverer=deliverer)
    session.commit()  # no transaction stays open while we wait on the network
    vet(batch.jobs, deliverer)

    def one(job: Job) -> None:
        send(job, deliverer, now=now)

    if run is None:
        for job in batch.jobs:
            one(job)
    else:
        run(one, batch.jobs)
    return batch.outcomes + record(session, batch.jobs, now=now, deliverer=deliverer)


def deliver_one(
    session: Session, delivery_id: int, attempts: int, *, now: datetime, deliverer: Deliverer
) -> str:
    """Deliver one claimed delivery; returns sent / retry / failed / held / throttled / skipped / lost."""
    claimed = claim.load(session, [(delivery_id, attempts)])
    if not claimed:
        session.commit()
        return "lost"
    (outcome,) = deliver_batch(session, claimed, now=now, deliverer=deliverer)
    return outcome
