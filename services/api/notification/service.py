from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy import Select
from sqlmodel import Session, col, select

from duban import outbox
from duban.db import columns, rowcount
from duban.errors import Conflict, NotFound, Unprocessable
from duban.models import Delivery, DeliveryStatus, Notification, NotificationPolicy, OutboxEvent, Plan, User
from duban.policy import Policy, load_policies
from duban.uow import unit_of_work

NOTIFICATION_COLUMNS = columns(
    Notification.id,
    Notification.event_id,
    Notification.type,
    Notification.title,
    Notification.body,
    Notification.link,
    Notification.created_at,
    Notification.read_at,
)
DELIVERY_COLUMNS = columns(
    Delivery.id,
    Delivery.event_id,
    OutboxEvent.message_id,
    col(OutboxEvent.type).label("event_type"),
    Delivery.channel,
    Delivery.target,
    Delivery.endpoint_id,
    Delivery.recipient_user_id,
    Delivery.status,
    Delivery.attempts,
    Delivery.next_attempt_at,
    Delivery.last_error,
    Delivery.created_at,
    Delivery.sent_at,
)


# --- inbox


def visible_notifications(user: User) -> Select[Any]:
    # The inbox is personal: nobody, not even the office, reads someone else's.
    return select(*NOTIFICATION_COLUMNS).where(Notification.user_id == user.id)


def mark_read(session: Session, *, user: User, notification_id: int, now: datetime) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:
        raise NotFound("通知不存在", code="notification.not_found")
    if row.read_at is None:
        with unit_of_work(session, actor=user, now=now):
            row.read_at = now
    return row


def mark_all_read(session: Session, *, user: User, now: datetime) -> int:
    with unit_of_work(session, actor=user, now=now):
        n = rowcount(
            session.execute(
                sa.update(Notification)
                .where(col(Notification.user_id) == user.id, col(Notification.read_at).is_(None))
                .values(read_at=now)
            )
        )
    return int(n or 0)


def unread_count(session: Session, *, user: User) -> int:
    return int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(col(Notification.user_id) == user.id, col(Notification.read_at).is_(None))
        ).scalar_one()
    )


# --- policy


def _stored(session: Session, plan_id: int | None) -> NotificationPolicy | None:
    cond = (
        col(NotificationPolicy.plan_id).is_(None)
        if plan_id is None
        else NotificationPolicy.plan_id == plan_id
    )
    return session.exec(select(NotificationPolicy).where(cond)).first()


def _check_plan(session: Session, plan_id: int | None) -> None:
    if plan_id is not None and session.get(Plan, plan_id) is None:
        raise NotFound("计划不存在", code="plan.not_found")


def policy_view(session: Session, *, plan_id: int | None) -> dict[str, Any]:
    _check_plan(session, plan_id)
    default, overrides = load_policies(session)
    effective = overrides.get(plan_id, default) if plan_id is not None else default
    row = _stored(session, plan_id)
    return {
        "plan_id": plan_id,
        "config": effective.model_dump(mode="json"),
        "override": row.config if row else {},
        "version": row.version if row else 0,
    }


def put_policy(
    session: Session, *, actor: User, plan_id: int | None, config: dict[str, Any], now: datetime
) -> dict[str, Any]:
    _check_plan(session, plan_id)
    try:
        Policy.model_validate(config)
    except ValidationError as exc:
        raise Unprocessable(
            "提醒策略不合法",
            code="notification_policy.invalid",
            details=exc.errors(include_url=False, include_context=False),
        ) from exc
    row = _stored(session, plan_id)
    with unit_of_work(session, actor=actor, now=now) as uow:
        if row is None:
            uow.add(
                NotificationPolicy(plan_id=plan_id, config=config, created_at=now, updated_at=now),
                action="notification_policy.put",
            )
        else:
            uow.track(row, action="notification_policy.put")
            row.config = config
    return policy_view(session, plan_id=plan_id)


# --- deliveries


def deliveries_query() -> Select[Any]:
    return select(*DELIVERY_COLUMNS).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)  # type: ignore[arg-type]


def delivery_detail(session: Session, *, delivery_id: int) -> dict[str, Any]:
    from duban.models import DeliveryAttempt

    row = session.execute(deliveries_query().where(col(Delivery.id) == delivery_id)).mappings().first()
    if row is None:
        raise NotFound("投递记录不存在", code="delivery.not_found")
    attempts = session.exec(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(col(DeliveryAttempt.attempt), col(DeliveryAttempt.id))
    ).all()
    return {**dict(row), "history": [a.model_dump() for a in attempts]}


def redrive(session: Session, *, actor: User, delivery_id: int, now: datetime) -> dict[str, Any]:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("投递记录不存在", code="delivery.not_found")
    if delivery.status not in (DeliveryStatus.failed, DeliveryStatus.skipped):
        raise Conflict(
            "只有投递失败（死信）的消息可以重新投递",
            code="delivery.not_dead_lettered",
            details={"status": str(delivery.status)},
        )
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.record(
            action="delivery.redrive",
            entity_type="delivery",
            entity_id=delivery.id,
            before={"status": str(delivery.status), "attempts": delivery.attempts},
            after={"status": "pending", "attempts": 0},
        )
        outbox.redrive(session, delivery=delivery, now=now)
    return delivery_detail(session, delivery_id=delivery_id)
