from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.calendar import schemas, service
from api.deps import CurrentUser, NowDep, OfficeUser, SessionDep
from api.errors import ErrorEnvelope
from api.http import json_response

router = APIRouter(prefix="/calendar", tags=["calendar"])

_422: dict[int | str, dict[str, Any]] = {422: {"model": ErrorEnvelope}}


@router.get("/years", response_model=list[schemas.YearCoverage])
def list_years(user: CurrentUser, session: SessionDep, now: NowDep) -> Any:
    """Who knows each year's holidays: the package, the office's table, or nobody (Monday–Friday)."""
    return json_response(service.years(session, now=now))


@router.put(
    "/years/{year}",
    response_model=schemas.YearSetResult,
    responses={403: {"model": ErrorEnvelope}, **_422},
)
def set_year(
    body: schemas.YearNotice,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    year: Annotated[int, Path(ge=1900, le=2200)],
) -> Any:
    """Load a year's State Council notice: its rest days and adjusted working days replace the office's
    table for that year, merged over the package. Open deadlines that now fall on a rest day move to
    the next working day (audited)."""
    return json_response(service.set_year(session, actor=user, year=year, notice=body, now=now))


@router.get("/days", response_model=list[schemas.CalendarDayPublic], responses=_422)
def list_days(
    user: CurrentUser,
    session: SessionDep,
    start: Annotated[date, Query(alias="from", description="起始日期（含）")],
    end: Annotated[date, Query(alias="to", description="结束日期（含），最多 400 天")],
) -> Any:
    """Every day of a range: working or not, why, and its working ordinal."""
    return json_response(service.days(session, start=start, end=end))
