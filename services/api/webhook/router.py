from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import col, select

from api.deps import NowDep, SessionDep, require_roles
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, paginate
from api.webhook import schemas, service
from duban.db import columns
from duban.models import Role, User, WebhookEndpoint

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
    is_active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Registered endpoints (secrets are never listed)."""
    stmt = select(*_COLUMNS)
    if unit_id is not None:
        stmt = stmt.where(WebhookEndpoint.unit_id == unit_id)
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
