from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import col

from api.deps import CurrentUser, NowDep, SessionDep, require_roles
from api.errors import ErrorEnvelope
from api.http import json_response
from api.notification import schemas, service
from api.pagination import Page, paginate
from duban.models import Delivery, DeliveryStatus, Notification, Role, User

router = APIRouter(prefix="/notifications", tags=["notifications"])
policy_router = APIRouter(tags=["notification-policies"])
delivery_router = APIRouter(prefix="/deliveries", tags=["deliveries"])

PolicyEditor = Annotated[User, Depends(require_roles(Role.office, Role.admin))]
PolicyReader = Annotated[User, Depends(require_roles(Role.office, Role.admin, Role.leader, Role.viewer))]
DeliveryAdmin = Annotated[User, Depends(require_roles(Role.office, Role.admin, scope="webhooks:manage"))]
_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}}


@router.get("", response_model=Page[schemas.NotificationPublic])
def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread: Annotated[bool, Query(description="只看未读")] = False,
    type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Any:
    """My inbox, newest first."""
    stmt = service.visible_notifications(user)
    if unread:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    if type:
        stmt = stmt.where(col(Notification.type) == type)
    return json_response(
        paginate(session, stmt, order=[(col(Notification.id), "desc")], limit=limit, cursor=cursor)
    )


@router.get("/unread-count", response_model=schemas.UnreadCount)
def unread_count(user: CurrentUser, session: SessionDep) -> Any:
    """How many of my notifications are unread."""
    return json_response({"unread": service.unread_count(session, user=user)})


@router.post("/read-all", response_model=schemas.MarkedRead)
def read_all(user: CurrentUser, session: SessionDep, now: NowDep) -> Any:
    """Mark every notification of mine as read."""
    return json_response({"updated": service.mark_all_read(session, user=user, now=now)})


@router.post("/{notification_id}/read", response_model=schemas.NotificationPublic, responses=_E)
def read_one(notification_id: int, user: CurrentUser, session: SessionDep, now: NowDep) -> Any:
    """Mark one of my notifications as read."""
    row = service.mark_read(session, user=user, notification_id=notification_id, now=now)
    return json_response(
        schemas.NotificationPublic.model_validate(row, from_attributes=True).model_dump(mode="json")
    )


@policy_router.get("/plans/{plan_id}/notification-policy", response_model=schemas.PolicyPublic, responses=_E)
def get_plan_policy(plan_id: int, _user: PolicyReader, session: SessionDep) -> Any:
    """The reminder and escalation policy in force for a plan."""
    return json_response(service.policy_view(session, plan_id=plan_id))


@policy_router.put(
    "/plans/{plan_id}/notification-policy", response_model=schemas.PolicyPublic, responses={**_E, **_W}
)
def put_plan_policy(
    plan_id: int, body: dict[str, Any], user: PolicyEditor, session: SessionDep, now: NowDep
) -> Any:
    """Override the default policy for one plan (fields left out keep the default)."""
    return json_response(service.put_policy(session, actor=user, plan_id=plan_id, config=body, now=now))


@policy_router.get("/notification-policies/default", response_model=schemas.PolicyPublic)
def get_default_policy(_user: PolicyReader, session: SessionDep) -> Any:
    """The office-wide default policy."""
    return json_response(service.policy_view(session, plan_id=None))


@policy_router.put("/notification-policies/default", response_model=schemas.PolicyPublic, responses=_W)
def put_default_policy(body: dict[str, Any], user: PolicyEditor, session: SessionDep, now: NowDep) -> Any:
    """Change the office-wide default policy."""
    return json_response(service.put_policy(session, actor=user, plan_id=None, config=body, now=now))


@delivery_router.get("", response_model=Page[schemas.DeliveryPublic], responses=_W)
def list_deliveries(
    _user: DeliveryAdmin,
    session: SessionDep,
    status: DeliveryStatus | None = None,
    channel: str | None = None,
    endpoint_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Deliveries, e.g. `?status=failed` for the dead letters."""
    stmt = service.deliveries_query()
    if status is not None:
        stmt = stmt.where(col(Delivery.status) == str(status))
    if channel:
        stmt = stmt.where(col(Delivery.channel) == channel)
    if endpoint_id is not None:
        stmt = stmt.where(col(Delivery.endpoint_id) == endpoint_id)
    return json_response(
        paginate(session, stmt, order=[(col(Delivery.id), "desc")], limit=limit, cursor=cursor)
    )


@delivery_router.get("/{delivery_id}", response_model=schemas.DeliveryDetail, responses=_E)
def get_delivery(delivery_id: int, _user: DeliveryAdmin, session: SessionDep) -> Any:
    """One delivery with every attempt."""
    return json_response(service.delivery_detail(session, delivery_id=delivery_id))


@delivery_router.post(
    "/{delivery_id}/redrive",
    response_model=schemas.DeliveryDetail,
    responses={**_E, 409: {"model": ErrorEnvelope}},
)
def redrive_delivery(delivery_id: int, user: DeliveryAdmin, session: SessionDep, now: NowDep) -> Any:
    """Put a dead-lettered delivery back in the queue with a fresh attempt budget."""
    return json_response(service.redrive(session, actor=user, delivery_id=delivery_id, now=now))
