from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select
from sqlmodel import Session, col, select

from duban import audit, outbox
from duban.errors import Conflict, NotFound, Unprocessable
from duban.events import WebhookPing
from duban.models import (
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointKind,
    OutboxEvent,
    Plan,
    Unit,
    User,
    WebhookEndpoint,
)
from duban.outbox import subscribed
from duban.settings import get_settings
from duban.signing import new_secret
from duban.uow import Emitted, unit_of_work
from duban.urlsafety import check_url

_HIDDEN = ("secret", "previous_secret", "next_send_at")
# DingTalk and WeCom robots accept 20 messages a minute; beyond it DingTalk mutes the robot.
ROBOT_PER_MINUTE = 20
# Never delivered to endpoints, so never redelivered to one.
_NOT_FOR_ENDPOINTS = ("delivery.failed", "webhook.disabled")
# Messages one range redelivery may look at: a bound on its work and memory (a year of a
# province's events would otherwise be read in one request); longer outages go in several ranges.
REDELIVER_MAX_EVENTS = 5000


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return audit.snapshot(endpoint, exclude=_HIDDEN)


def _check_url(url: str) -> None:
    s = get_settings()
    check_url(url, allow_private=s.webhook_allow_private, allowed_networks=s.webhook_networks)


def get(session: Session, *, endpoint_id: int) -> WebhookEndpoint:
    ep = session.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        raise NotFound("回调地址不存在", code="webhook.not_found")
    return ep


def _check_scope(session: Session, unit_id: int | None, plan_id: int | None) -> None:
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise Unprocessable("单位不存在", code="webhook.invalid_unit", details={"unit_id": unit_id})
    if plan_id is not None and session.get(Plan, plan_id) is None:
        raise Unprocessable("计划不存在", code="webhook.invalid_plan", details={"plan_id": plan_id})


def _rate(kind: EndpointKind, rate: int | None) -> int:
    if kind == EndpointKind.webhook:
        return rate or 0  # no limit unless the office sets one
    if rate is None or rate == 0:
        return ROBOT_PER_MINUTE
    if rate > ROBOT_PER_MINUTE:
        raise Unprocessable(
            f"钉钉、企业微信机器人每分钟最多接收 {ROBOT_PER_MINUTE} 条消息",
            code="webhook.rate_limit_too_high",
            details={"max": ROBOT_PER_MINUTE},
        )
    return rate


def create(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> WebhookEndpoint:
    _check_url(data["url"])
    _check_scope(session, data.get("unit_id"), data.get("plan_id"))
    kind = EndpointKind(data.get("kind") or EndpointKind.webhook)
    data = {**data, "rate_limit_per_minute": _rate(kind, data.get("rate_limit_per_minute"))}
    # Standard Webhooks secrets are ours to generate; a DingTalk robot's SEC… secret comes from DingTalk.
    secret = new_secret() if kind == EndpointKind.webhook else data.get("secret")
    ep = WebhookEndpoint.model_validate(
        {**data, "kind": kind, "secret": secret, "created_at": now, "updated_at": now}
    )
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.add(ep, action="webhook.create", snapshot=_snapshot)
    return ep


def update(
    session: Session, *, actor: User, endpoint: WebhookEndpoint, changes: dict[str, Any], now: datetime
) -> tuple[WebhookEndpoint, str | None]:
    rotate = bool(changes.pop("rotate_secret", False))
    if changes.get("url"):
        _check_url(changes["url"])
    _check_scope(session, changes.get("unit_id"), changes.get("plan_id"))
    if changes.get("rate_limit_per_minute") is not None:
        changes["rate_limit_per_minute"] = _rate(
            EndpointKind(endpoint.kind), changes["rate_limit_per_minute"]
        )
    new = None
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(endpoint, action="webhook.update", snapshot=_snapshot)
        reenabled = changes.get("is_active") is True and not endpoint.is_active
        for key, value in changes.items():
            if key in ("url", "is_active", "rate_limit_per_minute", "event_types") and value is None:
                continue
            setattr(endpoint, key, value)
        if reenabled:
            # Back on: the failure streak starts over (redeliver what it missed by time range).
            endpoint.failing_since = endpoint.disabled_at = endpoint.disabled_reason = None
        if rotate and endpoint.kind == EndpointKind.webhook:
            new = _rotate(endpoint, overlap_hours=None, now=now)
    return endpoint, new


def _rotate(endpoint: WebhookEndpoint, *, overlap_hours: float | None, now: datetime) -> str:
    hours = get_settings().webhook_secret_overlap_hours if overlap_hours is None else overlap_hours
    if hours > 0:
        # Both sign until then: a receiver still on the old secret keeps verifying.
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=hours)
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = new_secret()
    return endpoint.secret


def rotate_secret(
    session: Session, *, actor: User, endpoint: WebhookEndpoint, overlap_hours: float | None, now: datetime
) -> str:
    if endpoint.kind != EndpointKind.webhook:
        raise Conflict("机器人的加签密钥由钉钉生成，请在钉钉中重置后修改", code="webhook.not_rotatable")
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(endpoint, action="webhook.rotate_secret", snapshot=_snapshot)
        secret = _rotate(endpoint, overlap_hours=overlap_hours, now=now)
    return secret


def ping(session: Session, *, actor: User, endpoint: WebhookEndpoint, now: datetime) -> Emitted:
    """A test message to this endpoint alone, through the outbox like every other message."""
    with unit_of_work(session, actor=actor, now=now) as uow:
        row = uow.emit(WebhookPing(endpoint_id=endpoint.id or 0), endpoint_id=endpoint.id)
    return row


def redeliver(
    session: Session,
    *,
    actor: User,
    endpoint: WebhookEndpoint,
    message_id: str | None,
    since: datetime | None,
    until: datetime | None,
    include_sent: bool,
    now: datetime,
) -> tuple[int, list[str]]:
    """Put one message, or every message of a time range, back in this endpoint's queue.

    The same webhook-id goes out again (receivers deduplicate on it). A range also covers events
    that reached no delivery because the endpoint was disabled when they happened."""
    if not endpoint.is_active:
        raise Conflict("回调地址已停用，请先启用再重新投递", code="webhook.disabled")
    if (message_id is None) == (since is None):
        raise Unprocessable("请指定要重新投递的一条消息或一个时间段", code="webhook.redeliver_what")
    settled = [str(DeliveryStatus.failed), str(DeliveryStatus.skipped)]
    if message_id is not None:
        event = session.exec(select(OutboxEvent).where(OutboxEvent.message_id == message_id)).first()
        if event is None:
            raise NotFound("消息不存在", code="webhook.message_not_found")
        events = [event]
        settled.append(str(DeliveryStatus.sent))
    else:
        assert since is not None
        end = until or now
        if end <= since:
            raise Unprocessable("时间段的结束须晚于开始", code="webhook.bad_range")
        events = list(
            session.exec(
                select(OutboxEvent)
                .where(
                    col(OutboxEvent.created_at) >= since,
                    col(OutboxEvent.created_at) < end,
                    col(OutboxEvent.fanned_out_at).is_not(None),
                    col(OutboxEvent.type).not_in(_NOT_FOR_ENDPOINTS),
                )
                .order_by(col(OutboxEvent.id))
                .limit(REDELIVER_MAX_EVENTS + 1)
            )
        )
        if len(events) > REDELIVER_MAX_EVENTS:
            raise Unprocessable(
                f"该时间段内的消息超过 {REDELIVER_MAX_EVENTS} 条，请分成较短的时间段重新投递",
                code="webhook.range_too_large",
                details={"max_events": REDELIVER_MAX_EVENTS},
            )
        events = [
            e
            for e in events
            if (e.endpoint_id is None and subscribed(endpoint, e.type, e.unit_id, e.plan_id))
            or e.endpoint_id == endpoint.id
        ]
        if include_sent:
            settled.append(str(DeliveryStatus.sent))
    existing = {
        d.event_id: d
        for d in session.exec(
            select(Delivery).where(
                Delivery.endpoint_id == endpoint.id, col(Delivery.event_id).in_([e.id for e in events])
            )
        )
    }
    if message_id is not None and events[0].id not in existing:
        raise NotFound("这条消息没有投递给该回调地址", code="webhook.message_not_delivered")
    requeued: list[str] = []
    with unit_of_work(session, actor=actor, now=now) as uow:
        for event in events:
            d = existing.get(event.id or 0)
            if d is None:
                uow.add(
                    Delivery(
                        event_id=event.id or 0,
                        channel=ChannelKind(str(endpoint.kind)),
                        target=f"endpoint:{endpoint.id}",
                        endpoint_id=endpoint.id,
                        assignment_id=event.assignment_id,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            elif str(d.status) in settled:
                outbox.redrive(session, delivery=d, now=now)
            elif message_id is not None:
                raise Conflict(
                    "该消息正在投递中，无需重新投递",
                    code="delivery.in_flight",
                    details={"status": str(d.status)},
                )
            else:
                continue
            requeued.append(event.message_id)
        uow.record(
            action="webhook.redeliver",
            entity_type="webhook_endpoint",
            entity_id=endpoint.id,
            after={
                "message_id": message_id,
                "since": since.isoformat() if since else None,
                "until": (until or now).isoformat() if since else None,
                "include_sent": include_sent,
                "requeued": len(requeued),
            },
        )
    return len(requeued), requeued[:100]


_LOG: tuple[Any, ...] = (
    col(DeliveryAttempt.id),
    col(DeliveryAttempt.delivery_id),
    col(OutboxEvent.message_id),
    col(OutboxEvent.type).label("event_type"),
    col(DeliveryAttempt.attempt),
    col(DeliveryAttempt.started_at),
    col(DeliveryAttempt.duration_ms),
    col(DeliveryAttempt.succeeded),
    col(DeliveryAttempt.status_code),
    col(DeliveryAttempt.url),
    col(DeliveryAttempt.request_headers),
    col(DeliveryAttempt.request_body),
    col(DeliveryAttempt.response_headers),
    col(DeliveryAttempt.response_excerpt).label("response_body"),
    col(DeliveryAttempt.error),
    col(Delivery.status).label("delivery_status"),
)


def delivery_log(
    *,
    endpoint_id: int,
    succeeded: bool | None,
    event_type: str | None,
    message_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    """Every attempt to this endpoint, newest first (the router pages it)."""
    stmt = (
        sa.select(*_LOG)
        .join(Delivery, col(Delivery.id) == col(DeliveryAttempt.delivery_id))
        .join(OutboxEvent, col(OutboxEvent.id) == col(Delivery.event_id))
        .where(col(Delivery.endpoint_id) == endpoint_id)
    )
    if succeeded is not None:
        stmt = stmt.where(col(DeliveryAttempt.succeeded).is_(succeeded))
    if event_type:
        stmt = stmt.where(col(OutboxEvent.type) == event_type)
    if message_id:
        stmt = stmt.where(col(OutboxEvent.message_id) == message_id)
    if since is not None:
        stmt = stmt.where(col(DeliveryAttempt.started_at) >= since)
    if until is not None:
        stmt = stmt.where(col(DeliveryAttempt.started_at) < until)
    return stmt


def delete(session: Session, *, actor: User, endpoint: WebhookEndpoint, now: datetime) -> None:
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(endpoint, action="webhook.delete", snapshot=_snapshot)
