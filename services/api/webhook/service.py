from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from duban import audit
from duban.errors import NotFound, Unprocessable
from duban.models import EndpointKind, Plan, Unit, User, WebhookEndpoint
from duban.settings import get_settings
from duban.signing import new_secret
from duban.uow import unit_of_work
from duban.urlsafety import check_url

_HIDDEN = ("secret",)


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


def create(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> WebhookEndpoint:
    _check_url(data["url"])
    _check_scope(session, data.get("unit_id"), data.get("plan_id"))
    kind = EndpointKind(data.get("kind") or EndpointKind.webhook)
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
    new = None
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(endpoint, action="webhook.update", snapshot=_snapshot)
        for key, value in changes.items():
            if key in ("url", "is_active", "rate_limit_per_minute", "event_types") and value is None:
                continue
            setattr(endpoint, key, value)
        if rotate and endpoint.kind == EndpointKind.webhook:
            new = endpoint.secret = new_secret()
    return endpoint, new


def delete(session: Session, *, actor: User, endpoint: WebhookEndpoint, now: datetime) -> None:
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(endpoint, action="webhook.delete", snapshot=_snapshot)
