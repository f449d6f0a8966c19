from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import col, select

from api import external
from api.deps import AdminUser, CurrentUser, NowDep, OfficeUser, SessionDep, UnitManager
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, paginate
from api.unit import schemas, service
from duban.errors import NotFound
from duban.models import Unit, UnitAlias, UnitGroup, UnitKind

router = APIRouter(prefix="/units", tags=["units"])
groups_router = APIRouter(prefix="/unit-groups", tags=["unit-groups"])
aliases_router = APIRouter(prefix="/unit-aliases", tags=["unit-aliases"])

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


def _unit_response(unit: Unit, status_code: int = 200) -> Response:
    body = schemas.UnitPublic.model_validate(unit, from_attributes=True).model_dump(mode="json")
    return json_response(body, status_code, headers={"ETag": etag_of("unit", unit.id, unit.version)})


@router.get("", response_model=Page[schemas.UnitPublic])
def list_units(
    user: CurrentUser,
    session: SessionDep,
    kind: Annotated[list[UnitKind] | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100, description="名称包含")] = None,
    is_active: bool | None = None,
    parent_id: int | None = None,
    external_id: Annotated[str | None, Query(max_length=100, description="外部编号")] = None,
    external_source_id: Annotated[int | None, Query(description=external.SOURCE_DOC)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """List units, filtered by kind, name, activity, parent or external id."""
    stmt = external.filter_list(
        service.visible_units(user), Unit, user=user, external_id=external_id, source_id=external_source_id
    )
    if kind:
        stmt = stmt.where(col(Unit.kind).in_([str(k) for k in kind]))
    if q:
        stmt = stmt.where(col(Unit.name).contains(q, autoescape=True))
    if is_active is not None:
        stmt = stmt.where(col(Unit.is_active).is_(is_active))
    if parent_id is not None:
        stmt = stmt.where(col(Unit.parent_id) == parent_id)
    return json_response(paginate(session, stmt, order=[(col(Unit.id), "asc")], limit=limit, cursor=cursor))


@router.post(
    "",
    status_code=201,
    response_model=schemas.UnitPublic,
    responses={**_W, 200: {"model": schemas.UnitPublic, "description": "外部编号已存在：已更新"}},
)
def create_unit(body: schemas.UnitCreate, user: UnitManager, session: SessionDep, now: NowDep) -> Any:
    """Create a unit (201); a repeated `external_id` of the caller updates that unit instead (200)."""
    unit, created = service.create(session, actor=user, data=body.model_dump(), now=now)
    return _unit_response(unit, 201 if created else 200)


@router.put(
    "/by-external-id/{external_id}",
    response_model=schemas.UnitPublic,
    responses={**_W, 201: {"model": schemas.UnitPublic, "description": "已创建"}},
)
def put_unit_by_external_id(
    external_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: schemas.UnitPut,
    user: UnitManager,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Create (201) or update (200) the unit the caller knows by `external_id`."""
    data = {**body.model_dump(), "external_id": external_id}
    unit, created = service.create(session, actor=user, data=data, now=now)
    return _unit_response(unit, 201 if created else 200)


@router.get("/{unit_id}", response_model=schemas.UnitPublic, responses=_E)
def get_unit(unit_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One unit, with its ETag."""
    return _unit_response(service.get(session, unit_id=unit_id))


@router.patch(
    "/{unit_id}", response_model=schemas.UnitPublic, responses={**_E, **_W, 412: {"model": ErrorEnvelope}}
)
def update_unit(
    unit_id: int,
    body: schemas.UnitUpdate,
    request: Request,
    user: UnitManager,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change a unit; send `If-Match` with its ETag to avoid overwriting someone else's change."""
    unit = service.get(session, unit_id=unit_id)
    check_if_match(request, kind="unit", entity_id=unit.id, version=unit.version)
    unit = service.update(
        session, actor=user, unit=unit, changes=body.model_dump(exclude_unset=True), now=now
    )
    return _unit_response(unit)


@router.delete("/{unit_id}", status_code=204, responses={**_E, **_W})
def delete_unit(unit_id: int, user: AdminUser, session: SessionDep, now: NowDep) -> Response:
    """Delete a unit that has never been assigned work (otherwise deactivate it)."""
    service.remove(session, actor=user, unit=service.get(session, unit_id=unit_id), now=now)
    return Response(status_code=204)


def _group(session: Any, group_id: int) -> UnitGroup:
    group: UnitGroup | None = session.get(UnitGroup, group_id)
    if group is None:
        raise NotFound("单位组不存在", code="unit_group.not_found")
    return group


@groups_router.get("", response_model=list[schemas.UnitGroupPublic])
def list_groups(user: CurrentUser, session: SessionDep) -> Any:
    """Unit groups with their resolved members."""
    groups = session.exec(select(UnitGroup).order_by(col(UnitGroup.id))).all()
    return json_response([service.group_public(session, g) for g in groups])


@groups_router.post("", status_code=201, response_model=schemas.UnitGroupPublic, responses=_W)
def create_group(body: schemas.UnitGroupCreate, user: AdminUser, session: SessionDep, now: NowDep) -> Any:
    """Create a unit group by kinds (各镇街 = town + street) and/or explicit members."""
    group = service.create_group(session, actor=user, data=body.model_dump(), now=now)
    return json_response(service.group_public(session, group), 201)


@groups_router.get("/{group_id}", response_model=schemas.UnitGroupPublic, responses=_E)
def get_group(group_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One unit group."""
    return json_response(service.group_public(session, _group(session, group_id)))


@groups_router.patch("/{group_id}", response_model=schemas.UnitGroupPublic, responses={**_E, **_W})
def update_group(
    group_id: int,
    body: schemas.UnitGroupUpdate,
    request: Request,
    user: AdminUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change a unit group's name, kinds or members."""
    group = _group(session, group_id)
    check_if_match(request, kind="unit_group", entity_id=group.id, version=group.version)
    group = service.update_group(
        session, actor=user, group=group, changes=body.model_dump(exclude_unset=True), now=now
    )
    return json_response(service.group_public(session, group))


@groups_router.delete("/{group_id}", status_code=204, responses={**_E, **_W})
def delete_group(group_id: int, user: AdminUser, session: SessionDep, now: NowDep) -> Response:
    """Delete a unit group (assignments already made stay)."""
    service.delete_group(session, actor=user, group=_group(session, group_id), now=now)
    return Response(status_code=204)


@aliases_router.get("", response_model=list[schemas.AliasPublic])
def list_aliases(user: CurrentUser, session: SessionDep) -> Any:
    """Names documents use for units (经济开发区 → 县经济开发区管委会)."""
    rows = session.execute(
        select(UnitAlias.id, UnitAlias.alias, UnitAlias.unit_id).order_by(col(UnitAlias.id))
    )
    return json_response([dict(r) for r in rows.mappings()])


@aliases_router.post("", status_code=201, response_model=schemas.AliasPublic, responses={**_E, **_W})
def create_alias(body: schemas.AliasCreate, user: OfficeUser, session: SessionDep, now: NowDep) -> Any:
    """Teach the importer another name for a unit."""
    row = service.add_alias(session, actor=user, alias=body.alias, unit_id=body.unit_id, now=now)
    return json_response({"id": row.id, "alias": row.alias, "unit_id": row.unit_id}, 201)


@aliases_router.delete("/{alias_id}", status_code=204, responses={**_E, **_W})
def delete_alias(alias_id: int, user: OfficeUser, session: SessionDep, now: NowDep) -> Response:
    """Remove a unit alias."""
    service.delete_alias(session, actor=user, alias_id=alias_id, now=now)
    return Response(status_code=204)
