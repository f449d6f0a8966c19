from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import col, select

from api.deps import NowDep, SessionDep, require_roles
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, paginate
from api.webhook import schemas, service
from duban.db import columns
from duban.models import DeliveryAttempt, Role, User, WebhookEndpoint

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookManager = Annotated[User, Depends(require_roles(Role.office, Role.admin, scope="webhooks:manage"))]
_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}}
_COLUMNS = columns(
    WebhookEndpoint.id,
    WebhookEndpoint.kind,
    WebhookEndpoint.url,
    WebhookEndpoint.description,
    WebhookEndpoint.event_types,
    WebhookEndpoint.unit_id,
    WebhookEndpoint.plan_id,
    WebhookEndpoint.is_active,
    WebhookEndpoint.rate_limit_per_minute,
    WebhookEndpoint.previous_secret_expires_at,
    WebhookEndpoint.failing_since,
    WebhookEndpoint.disabled_at,
    WebhookEndpoint.disabled_reason,
    WebhookEndpoint.version,
    WebhookEndpoint.created_at,
    WebhookEndpoint.updated_at,
)


def _public(
    ep: WebhookEndpoint, status_code: int = 200, secret: str | None = None, with_secret: bool = False
) -> Any:
    body = schemas.WebhookPublic.model_validate(ep, from_attributes=True).model_dump(mode="json")
    if with_secret:
        body["secret"] = secret
    return json_response(body, status_code, headers={"ETag": etag_of("webhook", ep.id, ep.version)})


@router.post("", status_code=201, response_model=schemas.WebhookCreated, responses=_W)
def create_webhook(
    body: schemas.WebhookCreate, user: WebhookManager, session: SessionDep, now: NowDep
) -> Any:
    """Register an endpoint; its signing secret is returned this once."""
    ep = service.create(session, actor=user, data=body.model_dump(), now=now)
    return _public(ep, 201, secret=ep.secret, with_secret=True)


@router.get("", response_model=Page[schemas.WebhookPublic], responses=_W)
def list_webhooks(
    _user: WebhookManager,
    session: SessionDep,
    unit_id: int | None = None,
    plan_id: int | None = None,
    is_active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Registered endpoints (secrets are never listed)."""
    stmt = select(*_COLUMNS)
    if unit_id is not None:
        stmt = stmt.where(WebhookEndpoint.unit_id == unit_id)
    if plan_id is not None:
        stmt = stmt.where(WebhookEndpoint.plan_id == plan_id)
    if is_active is not None:
        stmt = stmt.where(col(WebhookEndpoint.is_active).is_(is_active))
    return json_response(
        paginate(session, stmt, order=[(col(WebhookEndpoint.id), "asc")], limit=limit, cursor=cursor)
    )


@router.get("/{webhook_id}", response_model=schemas.WebhookPublic, responses={**_E, **_W})
def get_webhook(webhook_id: int, _user: WebhookManager, session: SessionDep) -> Any:
    """One endpoint, with its ETag."""
    return _public(service.get(session, endpoint_id=webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=schemas.WebhookCreated,
    responses={**_E, **_W, 412: {"model": ErrorEnvelope}},
)
def update_webhook(
    webhook_id: int,
    body: schemas.WebhookUpdate,
    request: Request,
    user: WebhookManager,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change an endpoint; `rotate_secret` returns a new secret this once."""
    ep = service.get(session, endpoint_id=webhook_id)
    check_if_match(request, kind="webhook", entity_id=ep.id, version=ep.version)
    ep, secret = service.update(
        session, actor=user, endpoint=ep, changes=body.model_dump(exclude_unset=True), now=now
    )
    return _public(ep, secret=secret, with_secret=True)


@router.delete("/{webhook_id}", status_code=204, responses={**_E, **_W})
def delete_webhook(webhook_id: int, user: WebhookManager, session: SessionDep, now: NowDep) -> Response:
    """Remove an endpoint and its pending deliveries."""
    service.delete(session, actor=user, endpoint=service.get(session, endpoint_id=webhook_id), now=now)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/secret/rotate",
    response_model=schemas.WebhookCreated,
    responses={**_E, **_W, 409: {"model": ErrorEnvelope}},
)
def rotate_webhook_secret(
    webhook_id: int, body: schemas.RotateSecret, user: WebhookManager, session: SessionDep, now: NowDep
) -> Any:
    """A new signing secret, returned this once; the old one keeps signing (a second signature in
    `webhook-signature`) until `previous_secret_expires_at`."""
    ep = service.get(session, endpoint_id=webhook_id)
    secret = service.rotate_secret(
        session, actor=user, endpoint=ep, overlap_hours=body.overlap_hours, now=now
    )
    return _public(ep, secret=secret, with_secret=True)


@router.post("/{webhook_id}/ping", status_code=202, response_model=schemas.PingResult, responses={**_E, **_W})
def ping_webhook(webhook_id: int, user: WebhookManager, session: SessionDep, now: NowDep) -> Any:
    """Send a signed `webhook.ping` to this endpoint only (also when it is disabled); the outcome
    appears in its delivery log."""
    row = service.ping(session, actor=user, endpoint=service.get(session, endpoint_id=webhook_id), now=now)
    return json_response({"message_id": row.message_id, "event_id": row.id}, 202)


@router.get("/{webhook_id}/deliveries", response_model=Page[schemas.DeliveryLogEntry], responses={**_E, **_W})
def list_webhook_deliveries(
    webhook_id: int,
    _user: WebhookManager,
    session: SessionDep,
    succeeded: bool | None = None,
    event_type: str | None = None,
    message_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """This endpoint's delivery log, newest first: each attempt's request (headers, body truncated to
    4096 characters), response (headers, body truncated to 2048), status code, error and duration."""
    service.get(session, endpoint_id=webhook_id)
    stmt = service.delivery_log(
        endpoint_id=webhook_id,
        succeeded=succeeded,
        event_type=event_type,
        message_id=message_id,
        since=since,
        until=until,
    )
    return json_response(
        paginate(session, stmt, order=[(col(DeliveryAttempt.id), "desc")], limit=limit, cursor=cursor)
    )


@router.post(
    "/{webhook_id}/redeliver",
    response_model=schemas.RedeliverResult,
    responses={**_E, **_W, 409: {"model": ErrorEnvelope}},
)
def redeliver_webhook(
    webhook_id: int, body: schemas.Redeliver, user: WebhookManager, session: SessionDep, now: NowDep
) -> Any:
    """Deliver one message again (`message_id`, whatever its outcome), or every message of a time
    range (`since`, `until`) that failed, was skipped or never reached this endpoint (and, with
    `include_sent`, those that arrived). Same webhook-id; in order per assignment."""
    count, ids = service.redeliver(
        session,
        actor=user,
        endpoint=service.get(session, endpoint_id=webhook_id),
        message_id=body.message_id,
        since=body.since,
        until=body.until,
        include_sent=body.include_sent,
        now=now,
    )
    return json_response({"requeued": count, "message_ids": ids})
