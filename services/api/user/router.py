from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import col

from api import external
from api.deps import CurrentUser, NowDep, SessionDep, UserManager
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, paginate
from api.user import schemas, service
from duban.errors import Unprocessable
from duban.models import Role, User

router = APIRouter(prefix="/users", tags=["users"])
_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


def _refuse_service_role(roles: list[Role] | None) -> None:
    # `service` marks accounts made by POST /service-accounts (API keys, scopes); a person holding
    # it would read every unit's data with a password instead of a scoped key.
    if roles and Role.service in roles:
        raise Unprocessable(
            "“服务账号”角色仅供服务账号使用，不能授予人员账号",
            code="user.reserved_role",
            details={"role": Role.service.value},
        )


def _user_response(user: User, status_code: int = 200) -> Response:
    body = schemas.UserPublic.model_validate(user, from_attributes=True).model_dump(mode="json")
    return json_response(body, status_code, headers={"ETag": etag_of("user", user.id, user.version)})


@router.get("", response_model=Page[schemas.UserPublic])
def list_users(
    user: CurrentUser,
    session: SessionDep,
    unit_id: int | None = None,
    is_active: bool | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    external_id: Annotated[str | None, Query(max_length=100, description="外部编号")] = None,
    external_source_id: Annotated[int | None, Query(description=external.SOURCE_DOC)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Users the caller may see: everyone for county-wide roles, the own unit otherwise."""
    stmt = external.filter_list(
        service.visible_users(user), User, user=user, external_id=external_id, source_id=external_source_id
    )
    if unit_id is not None:
        stmt = stmt.where(col(User.unit_id) == unit_id)
    if is_active is not None:
        stmt = stmt.where(col(User.is_active).is_(is_active))
    if q:
        stmt = stmt.where(
            col(User.username).contains(q, autoescape=True) | col(User.full_name).contains(q, autoescape=True)
        )
    return json_response(paginate(session, stmt, order=[(col(User.id), "asc")], limit=limit, cursor=cursor))


@router.post(
    "",
    status_code=201,
    response_model=schemas.UserPublic,
    responses={**_W, 200: {"model": schemas.UserPublic, "description": "外部编号已存在：已更新"}},
)
def create_user(body: schemas.UserCreate, user: UserManager, session: SessionDep, now: NowDep) -> Any:
    """Create a user (admins: anyone; unit heads: staff of their own unit; keys: anyone but admins).

    A repeated `external_id` of the caller updates that user instead (200; the password stays).
    """
    _refuse_service_role(body.roles)
    found, created = service.create_or_update(session, actor=user, data=body.model_dump(), now=now)
    return _user_response(found, 201 if created else 200)


@router.put(
    "/by-external-id/{external_id}",
    response_model=schemas.UserPublic,
    responses={**_W, 201: {"model": schemas.UserPublic, "description": "已创建"}},
)
def put_user_by_external_id(
    external_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: schemas.UserPut,
    user: UserManager,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Create (201) or update (200) the user the caller knows by `external_id`."""
    _refuse_service_role(body.roles)
    data = {**body.model_dump(), "external_id": external_id}
    found, created = service.create_or_update(session, actor=user, data=data, now=now)
    return _user_response(found, 201 if created else 200)


@router.post("/me/password", status_code=204, responses={401: {"model": ErrorEnvelope}})
def change_my_password(
    body: schemas.PasswordChange, user: CurrentUser, session: SessionDep, now: NowDep
) -> Response:
    """Change the signed-in user's password; every other session of the user ends."""
    service.change_password(session, user=user, current=body.current_password, new=body.new_password, now=now)
    return Response(status_code=204)


@router.get("/{user_id}", response_model=schemas.UserPublic, responses=_E)
def get_user(user_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One user, if visible to the caller."""
    return _user_response(service.get_visible(session, viewer=user, user_id=user_id))


@router.patch(
    "/{user_id}", response_model=schemas.UserPublic, responses={**_E, **_W, 412: {"model": ErrorEnvelope}}
)
def update_user(
    user_id: int,
    body: schemas.UserUpdate,
    request: Request,
    user: UserManager,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change a user; disabling one ends their sessions on the next request."""
    _refuse_service_role(body.roles)
    target = service.get_visible(session, viewer=user, user_id=user_id)
    check_if_match(request, kind="user", entity_id=target.id, version=target.version)
    updated = service.update(
        session, actor=user, user=target, changes=body.model_dump(exclude_unset=True), now=now
    )
    return _user_response(updated)
