from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from api.auth import accounts, schemas, service
from api.deps import AdminUser, CurrentUser, NowDep, SessionDep, SettingsDep, run_in_session
from api.errors import ErrorEnvelope
from api.http import json_response
from api.security import verify_password
from api.user.schemas import MePublic, UserPublic
from duban.models import Unit

router = APIRouter(prefix="/auth", tags=["auth"])
accounts_router = APIRouter(prefix="/service-accounts", tags=["service-accounts"])
_ERR: dict[int | str, dict[str, Any]] = {401: {"model": ErrorEnvelope}, 429: {"model": ErrorEnvelope}}


# RFC 6749 §5.1: responses carrying credentials are not stored by caches — nor by the
# Idempotency-Key middleware, which never keeps a `no-store` response (api.idempotency).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _address(request: Request) -> str:
    # The peer, or the client named by a trusted proxy (DUBAN_TRUSTED_PROXIES, see api.main).
    return request.client.host if request.client else "unknown"


@router.post("/token", response_model=schemas.TokenPair, responses={**_ERR, 503: {"model": ErrorEnvelope}})
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    settings: SettingsDep,
    now: NowDep,
) -> Any:
    """OAuth2 password flow: exchange username and password for an access and a refresh token.

    Repeated failures for one account answer 429 with a growing `Retry-After`; other accounts
    signing in from the same address are not affected.
    """
    address = _address(request)
    candidate = await run_in_session(
        request,
        lambda s: service.begin_login(s, username=form.username, address=address, settings=settings, now=now),
    )
    # The password check is CPU work (argon2, a second on a loaded machine): done holding no
    # database connection slot, so a burst of logins cannot starve every other request of slots
    # (they answered 503 after the pool wait).
    ok = await run_in_threadpool(verify_password, form.password, candidate.password_hash)
    tokens = await run_in_session(
        request,
        lambda s: service.finish_login(s, candidate=candidate, ok=ok, settings=settings, now=now),
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
    record, key = accounts.create(
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


@accounts_router.get("", response_model=list[schemas.ServiceAccountPublic], responses=_ERR)
def list_service_accounts(user: AdminUser, session: SessionDep, now: NowDep) -> Any:
    """Service accounts with their keys (never the keys themselves), scopes and last use."""
    return json_response(accounts.list_accounts(session, now=now))


@accounts_router.post(
    "/{account_id}/rotate-key",
    response_model=schemas.KeyRotated,
    responses={
        **_ERR,
        403: {"model": ErrorEnvelope},
        404: {"model": ErrorEnvelope},
        409: {"model": ErrorEnvelope},
    },
)
def rotate_service_account_key(
    account_id: int,
    user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    body: schemas.RotateKeyIn | None = None,
) -> Any:
    """Issue a new API key (shown only in this response); the account's old keys keep working
    until `old_keys_valid_until` (default 24 hours), then answer 401."""
    account = accounts.get_account(session, account_id=account_id)
    record, key, old = accounts.rotate(
        session,
        actor=user,
        account=account,
        old_keys_valid_until=body.old_keys_valid_until if body else None,
        settings=settings,
        now=now,
    )
    listed = {
        k["id"]: k
        for a in accounts.list_accounts(session, now=now)
        if a["id"] == account_id
        for k in a["keys"]
    }
    return json_response(
        {
            "account_id": account_id,
            "key_id": record.id,
            "prefix": record.prefix,
            "scopes": record.scopes,
            "expires_at": record.expires_at,
            "api_key": key,
            "old_keys": [listed[k.id] for k in old if k.id in listed],
        },
        headers=NO_STORE,
    )


@accounts_router.delete("/{key_id}", status_code=204, responses={**_ERR, 404: {"model": ErrorEnvelope}})
def revoke_service_account(key_id: int, user: AdminUser, session: SessionDep, now: NowDep) -> Response:
    """Revoke one API key (by key id); requests with it answer 401 from now on."""
    accounts.revoke(session, actor=user, key_id=key_id, now=now)
    return Response(status_code=204)
