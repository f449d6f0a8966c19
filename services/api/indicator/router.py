from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlmodel import col, select
from starlette.responses import Response

from api.deps import NowDep, OfficeUser, Reader, SessionDep, UnitWriter
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.indicator import schemas, service
from api.pagination import Page, paginate
from duban.models import Indicator, IndicatorValue

router = APIRouter(prefix="/indicators", tags=["indicators"])

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    404: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


def _public(session: Any, indicator: Indicator, now: Any, status_code: int = 200) -> Response:
    row = {c.key: getattr(indicator, c.key) for c in service.COLUMNS}
    service.with_status(session, rows=[row], now=now)
    return json_response(
        row, status_code, headers={"ETag": etag_of("indicator", indicator.id, indicator.version)}
    )


@router.get("", response_model=Page[schemas.IndicatorPublic])
def list_indicators(
    user: Reader,
    session: SessionDep,
    now: NowDep,
    plan_id: int | None = None,
    owner_unit_id: int | None = None,
    task_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Indicators with progress, forecast and RAG light."""
    stmt = service.list_stmt(
        user, filters={"plan_id": plan_id, "owner_unit_id": owner_unit_id, "task_id": task_id}
    )
    page = paginate(session, stmt, order=[(col(Indicator.id), "asc")], limit=limit, cursor=cursor)
    service.with_status(session, rows=page["items"], now=now)
    return json_response(page)


@router.post("", status_code=201, response_model=schemas.IndicatorPublic, responses=_W)
def create_indicator(
    body: schemas.IndicatorCreate, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Add a measured goal to a plan."""
    indicator = service.create(session=session, user=user, data=body.model_dump(), now=now)
    return _public(session, indicator, now, 201)


@router.get("/{indicator_id}", response_model=schemas.IndicatorPublic, responses=_E)
def get_indicator(indicator_id: int, user: Reader, session: SessionDep, now: NowDep) -> Any:
    """One indicator with its status."""
    return _public(session, service.get(session, user=user, indicator_id=indicator_id), now)


@router.patch(
    "/{indicator_id}", response_model=schemas.IndicatorPublic, responses={**_W, 412: {"model": ErrorEnvelope}}
)
def update_indicator(
    indicator_id: int,
    body: schemas.IndicatorUpdate,
    request: Request,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change an indicator; send `If-Match` with its ETag."""
    indicator = service.get(session, user=user, indicator_id=indicator_id)
    check_if_match(request, kind="indicator", entity_id=indicator.id, version=indicator.version)
    changes = body.model_dump(exclude_unset=True)
    indicator = service.update(session=session, user=user, indicator=indicator, changes=changes, now=now)
    return _public(session, indicator, now)


@router.delete("/{indicator_id}", status_code=204, responses={**_E, 403: {"model": ErrorEnvelope}})
def delete_indicator(indicator_id: int, user: OfficeUser, session: SessionDep, now: NowDep) -> Response:
    """Delete an indicator and its values."""
    service.delete(
        session=session,
        user=user,
        indicator=service.get(session, user=user, indicator_id=indicator_id),
        now=now,
    )
    return Response(status_code=204)


@router.get("/{indicator_id}/values", response_model=list[schemas.ValuePublic], responses=_E)
def list_values(indicator_id: int, user: Reader, session: SessionDep) -> Any:
    """Reported values, oldest period first."""
    service.get(session, user=user, indicator_id=indicator_id)
    stmt = (
        select(*service.VALUE_COLUMNS)
        .where(IndicatorValue.indicator_id == indicator_id)
        .order_by(col(IndicatorValue.period_end), col(IndicatorValue.id))
    )
    return json_response([dict(r) for r in session.execute(stmt).mappings()])


@router.post("/{indicator_id}/values", status_code=201, response_model=schemas.ValuePublic, responses=_W)
def add_value(
    indicator_id: int, body: schemas.ValueCreate, user: UnitWriter, session: SessionDep, now: NowDep
) -> Any:
    """Report the value of one period (a repeated period replaces the earlier value)."""
    indicator = service.get(session, user=user, indicator_id=indicator_id)
    row = service.add_value(
        session=session, user=user, indicator=indicator, period=body.period, value=body.value, now=now
    )
    return json_response({c.key: getattr(row, c.key) for c in service.VALUE_COLUMNS}, 201)
