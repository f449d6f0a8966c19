from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import col

from api.auth import schemas, service
from api.deps import AdminUser, CurrentUser, NowDep, SessionDep, SettingsDep
from api.errors import ErrorEnvelope
from api.http import json_response
from api.user.schemas import MePublic, UserPublic
from duban.db import columns
from duban.models import ApiKey, Unit

router = APIRouter(prefix="/auth", tags=["auth"])
accounts_router = APIRouter(prefix="/service-accounts", tags=["service-accounts"])
_ERR: dict[int | str, dict[str, Any]] = {401: {"model": ErrorEnvelope}, 429: {"model": ErrorEnvelope}}


# RFC 6749 §5.1: responses carrying credentials are not stored by caches — nor by the
# Idempotency-Key middleware, which never keeps a `no-store` response (api.idempotency).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _address(request: Request) -> str:
    # The peer, or the client named by a trusted proxy (DUBAN_TRUSTED_PROXIES, see api.main).
    return request.client.host if request.client else "unknown"


@router.post("/token", response_model=schemas.TokenPair, responses=_ERR)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Any:
    """OAuth2 password flow: exchange username and password for an access and a refresh token.

    Repeated failures for one account answer 429 with a growing `Retry-After`; other accounts
    signing in from the same address are not affected.
    """
    tokens = service.login(
        session,
        username=form.username,
        password=form.password,
        address=_address(request),
        settings=settings,
        now=now,
    )
    return json_response(tokens, headers=NO_STORE)


@router.post("/refresh", response_model=schemas.TokenPair, responses=_ERR)
def refresh(body: schemas.RefreshIn, session: SessionDep, settings: SettingsDep, now: NowDep) -> Any:
    """Rotate a refresh token: the old one stops working, a reused one ends the login.

    A login ended by a password change, reset, disabling or sign-out answers 401 `auth.session_ended`.
    """
    tokens = service.refresh(session, token=body.refresh_token, settings=settings, now=now)
    return json_response(tokens, headers=NO_STORE)


@router.post("/logout", status_code=204, responses=_ERR)
def logout(
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    body: schemas.RefreshIn | None = None,
    everywhere: bool = True,
) -> Response:
    """Sign out: every session of the user ends, access and refresh tokens alike.

    The body and `everywhere` are accepted for compatibility; signing out always ends every session.
    """
    service.logout(session, user=user, now=now)
    return Response(status_code=204)


@router.get("/me", response_model=MePublic, responses=_ERR)
def me(user: CurrentUser, session: SessionDep) -> Any:
    """The signed-in user, with the name of their unit."""
    unit = session.get(Unit, user.unit_id) if user.unit_id is not None else None
    body = UserPublic.model_validate(user, from_attributes=True).model_dump(mode="json")
    return json_response({**body, "unit_name": unit.name if unit else None})


@accounts_router.post(
    "",
    status_code=201,
    response_model=schemas.ServiceAccountCreated,
    responses={**_ERR, 403: {"model": ErrorEnvelope}, 409: {"model": ErrorEnvelope}},
)
def create_service_account(
    body: schemas.ServiceAccountCreate,
    user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Any:
    """Create a service account for an integration; its API key is shown only in this response."""
    record, key = service.create_service_account(
        session,
        actor=user,
        name=body.name,
        full_name=body.full_name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        settings=settings,
        now=now,
    )
    return json_response(
        {
            "id": record.id,
            "user_id": record.user_id,
            "name": record.name,
            "scopes": record.scopes,
            "expires_at": record.expires_at,
            "api_key": key,
        },
        status_code=201,
        headers=NO_STORE,
    )


@accounts_router.get("", response_model=list[schemas.ApiKeyPublic], responses=_ERR)
def list_service_accounts(user: AdminUser, session: SessionDep) -> Any:
    """API keys of all service accounts (never the keys themselves)."""
    cols = columns(
        ApiKey.id,
        ApiKey.user_id,
        ApiKey.name,
        ApiKey.prefix,
        ApiKey.scopes,
        ApiKey.created_at,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
    )
    rows = session.execute(sa.select(*cols).order_by(col(ApiKey.id))).mappings().all()
    return json_response([dict(r) for r in rows])


@accounts_router.delete("/{key_id}", status_code=204, responses={**_ERR, 404: {"model": ErrorEnvelope}})
def revoke_service_account(key_id: int, user: AdminUser, session: SessionDep, now: NowDep) -> Response:
    """Revoke an API key; requests with it are refused from now on."""
    service.revoke_api_key(session, actor=user, key_id=key_id, now=now)
    return Response(status_code=204)
