from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from api.audit import service as audit
from duban.errors import NotFound, Unprocessable
from duban.models import EndpointKind, Plan, Unit, User, WebhookEndpoint
from duban.settings import get_settings
from duban.signing import new_secret
from duban.urlsafety import check_url

_HIDDEN = ("secret",)


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
    check_url(data["url"], allow_private=get_settings().webhook_allow_private)
    _check_scope(session, data.get("unit_id"), data.get("plan_id"))
    kind = EndpointKind(data.get("kind") or EndpointKind.webhook)
    # Standard Webhooks secrets are ours to generate; a DingTalk robot's SEC… secret comes from DingTalk.
    secret = new_secret() if kind == EndpointKind.webhook else data.get("secret")
    ep = WebhookEndpoint.model_validate(
        {**data, "kind": kind, "secret": secret, "created_at": now, "updated_at": now}
    )
    session.add(ep)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.create",
        entity_type="webhook_endpoint",
        entity_id=ep.id,
        after=audit.snapshot(ep, exclude=_HIDDEN),
        now=now,
    )
    session.commit()
    return ep


def update(
    session: Session, *, actor: User, endpoint: WebhookEndpoint, changes: dict[str, Any], now: datetime
) -> tuple[WebhookEndpoint, str | None]:
    before = audit.snapshot(endpoint, exclude=_HIDDEN)
    rotate = bool(changes.pop("rotate_secret", False))
    if changes.get("url"):
        check_url(changes["url"], allow_private=get_settings().webhook_allow_private)
    _check_scope(session, changes.get("unit_id"), changes.get("plan_id"))
    for key, value in changes.items():
        if key in ("url", "is_active", "rate_limit_per_minute", "event_types") and value is None:
            continue
        setattr(endpoint, key, value)
    new = None
    if rotate and endpoint.kind == EndpointKind.webhook:
        new = endpoint.secret = new_secret()
    endpoint.version += 1
    endpoint.updated_at = now
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.update",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        before=before,
        after=audit.snapshot(endpoint, exclude=_HIDDEN),
        now=now,
    )
    session.commit()
    return endpoint, new


def delete(session: Session, *, actor: User, endpoint: WebhookEndpoint, now: datetime) -> None:
    before = audit.snapshot(endpoint, exclude=_HIDDEN)
    session.delete(endpoint)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.delete",
        entity_type="webhook_endpoint",
        entity_id=before["id"],
        before=before,
        now=now,
    )
    session.commit()
