from __future__ import annotations

import asyncio
import weakref
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.board import service as board_service
from api.deps import NowDep, OfficeUser, Reader, SessionDep, SettingsDep
from api.direct import direct
from api.errors import ErrorEnvelope
from api.hotpath import HotReader, Template
from api.hotpath import Reader as Reader_
from api.http import encoded_response, json_response
from api.stats import service
from duban.errors import Forbidden, NotFound
from duban.models import Role

router = APIRouter(tags=["stats"])
_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}


class RagRow(BaseModel):
    id: int | None = None
    code: str | None = None
    name: str | None = None
    total: int
    states: dict[str, int]
    open: int
    overdue: int
    overdue_working_days_max: int
    overdue_working_days_sum: int
    completed: int
    completed_on_time: int
    completed_late: int
    completed_after_extension: int
    behind: int
    open_percent_avg: float | None = None
    reports: dict[str, Any]
    rag: str = Field(description="green / yellow / red")
    rag_reason: str


class PlanStats(RagRow):
    plan: dict[str, Any]
    as_of: str
    today: str


class IndicatorStats(BaseModel):
    id: int
    name: str
    target: float | None = None
    latest_value: float | None = None
    progress: float | None = None
    forecast: float | None = None
    achieved: bool
    rag: str
    rag_reason: str
    target_text: str | None = Field(default=None, description="目标的中文表述，如“不低于50个”")
    latest_text: str | None = Field(default=None, description="最新值的中文表述（计数类为整数），如“49个”")


# The dashboard and its groupings are hot reads (api.hotpath, api.direct): the cached principal is
# checked in the statement that loads the plan with the stats cache's check, so a cached summary is
# one round trip (a grouping one more, for its labels).
read_router = APIRouter(tags=["stats"])
_READ_ROLES = (Role.admin, Role.office, Role.leader, Role.viewer, Role.unit_head, Role.unit_staff)


# Built and compiled once (api.hotpath.Template): a request binds the plan's id.
PLAN_CHECKED = Template(
    lambda _user: service.plan_checked_statement(sa.bindparam("plan_id", type_=sa.Integer))
)


async def _plan_of(plan_id: int, reader: Reader_) -> tuple[Any, Any]:
    """The plan and the stats cache's check, in the statement that checks the cached principal."""
    user = reader.user
    # As `Reader` (api.deps.require_roles); a service account's tasks:read scope is checked by
    # HotReader against the route's declared scope (api.auth.scopes.DECLARED).
    if not user.is_service_account and not user.has_role(*_READ_ROLES):
        roles = [str(r) for r in _READ_ROLES]
        raise Forbidden(details={"required_roles": roles, "required_scope": "tasks:read"})
    (rows,) = await reader.rows(PLAN_CHECKED.bind(plan_id=plan_id))
    if not rows:
        raise NotFound("计划不存在", code="plan.not_found")
    return service.plan_of_row(rows[0])


@read_router.get("/stats/plans/{plan_id}", response_model=PlanStats, responses=_E)
@direct
async def plan_stats(plan_id: int, reader: HotReader, now: NowDep) -> Any:
    """A plan's totals: states, overdue working days, timeliness, report rate and RAG."""
    plan, check = await _plan_of(plan_id, reader)
    return encoded_response(await _summary_body(plan, check, reader, now))


# Summaries being computed on this event loop, by cache key: a request that finds its key here
# waits for that one and asks the cache again, rather than run the same GROUP BY beside it (16
# clients on a cold worker ran 16 of each plan's at once; see docs/performance.md).
_computing: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Event]] = (
    weakref.WeakKeyDictionary()
)


async def _summary_body(plan: Any, check: Any, reader: Reader_, now: datetime) -> bytes:
    """The summary's JSON: from the cache on the event loop (no statement beyond the plan's, no
    threadpool hop), else computed in one hop, one computation per key at a time."""
    engine, user = reader.engine, reader.user
    if engine is None:  # the sync path (SQLite, a test's shared session): the hop does it all
        return await reader.in_session(
            lambda session: service.summary_body(session, plan=plan, user=user, now=now, check=check)
        )
    key = service.summary_key(service.database_key(engine), plan=plan, user=user, now=now)
    body = service.cached_summary_body(key, plan=plan, user=user, now=now, check=check)
    if body is not None:
        return body
    loop = asyncio.get_running_loop()
    computing = _computing.get(loop)
    if computing is None:
        computing = _computing[loop] = {}
    pending = computing.get(key)
    if pending is not None:
        await pending.wait()
        body = service.cached_summary_body(key, plan=plan, user=user, now=now, check=check)
        if body is not None:
            return body
    done = asyncio.Event()
    mine = computing.setdefault(key, done) is done
    try:
        return await reader.in_session(
            lambda session: service.summary_body(session, plan=plan, user=user, now=now, check=check)
        )
    finally:
        if mine:
            computing.pop(key, None)
        done.set()


async def _grouped(by: str, plan_id: int, reader: Reader_, now: datetime) -> Any:
    plan, check = await _plan_of(plan_id, reader)
    items = await reader.in_session(
        lambda session: service.group_stats(session, plan=plan, user=reader.user, now=now, by=by, check=check)
    )
    return json_response({"items": items})


@read_router.get("/stats/plans/{plan_id}/sections", response_model=dict[str, list[RagRow]], responses=_E)
@direct
async def section_stats(plan_id: int, reader: HotReader, now: NowDep) -> Any:
    """The same numbers per section (重点任务)."""
    return await _grouped("section", plan_id, reader, now)


@read_router.get("/stats/plans/{plan_id}/tasks", response_model=dict[str, list[RagRow]], responses=_E)
@direct
async def task_stats(plan_id: int, reader: HotReader, now: NowDep) -> Any:
    """The same numbers per task."""
    return await _grouped("task", plan_id, reader, now)


@read_router.get("/stats/plans/{plan_id}/units", response_model=dict[str, list[RagRow]], responses=_E)
@direct
async def unit_stats(plan_id: int, reader: HotReader, now: NowDep) -> Any:
    """The same numbers per responsible unit, most overdue first."""
    return await _grouped("unit", plan_id, reader, now)


@router.get("/stats/plans/{plan_id}/indicators", response_model=dict[str, list[IndicatorStats]], responses=_E)
def indicator_stats(plan_id: int, user: Reader, session: SessionDep, now: NowDep) -> Any:
    """Indicators with latest value, progress, forecast and RAG."""
    plan = service.get_plan(session, plan_id)
    return json_response({"items": service.indicator_stats(session, plan=plan, user=user, now=now)})


@router.get("/stats/plans/{plan_id}/overdue", responses=_E)
def overdue_list(plan_id: int, user: Reader, session: SessionDep, now: NowDep, limit: int = 200) -> Any:
    """Open assignments past their deadline, longest overdue first."""
    plan = service.get_plan(session, plan_id)
    items = service.overdue_items(session, plan=plan, user=user, now=now, limit=max(1, min(limit, 1000)))
    return json_response({"items": items})


# --- board tokens (office): revocable read-only links for wall screens ---


class BoardTokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    plan_id: int | None = None


class BoardTokenPublic(BaseModel):
    id: int
    name: str
    plan_id: int | None = None
    created_at: Any
    revoked_at: Any = None
    last_used_at: Any = None


class BoardTokenCreated(BoardTokenPublic):
    token: str = Field(description="只显示这一次；看板地址为 /board?token=…")
    board_url: str


def _public(row: Any) -> dict[str, Any]:
    return BoardTokenPublic.model_validate(row, from_attributes=True).model_dump(mode="json")


@router.post(
    "/board-tokens",
    status_code=201,
    response_model=BoardTokenCreated,
    tags=["board-tokens"],
    responses={403: {"model": ErrorEnvelope}, **_E},
)
def create_board_token(
    body: BoardTokenCreate, user: OfficeUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> Any:
    """Create a read-only board token; the token is returned once."""
    row, plain = board_service.create_token(
        session, actor=user, name=body.name, plan_id=body.plan_id, settings=settings, now=now
    )
    return json_response({**_public(row), "token": plain, "board_url": f"/board?token={plain}"}, 201)


@router.get("/board-tokens", response_model=dict[str, list[BoardTokenPublic]], tags=["board-tokens"])
def list_board_tokens(_user: OfficeUser, session: SessionDep) -> Any:
    """Board tokens, revoked ones included (never the token itself)."""
    return json_response({"items": [_public(r) for r in board_service.list_tokens(session)]})


@router.delete("/board-tokens/{token_id}", status_code=204, tags=["board-tokens"], responses=_E)
def revoke_board_token(token_id: int, user: OfficeUser, session: SessionDep, now: NowDep) -> Response:
    """Revoke a board token: boards using it stop updating at once."""
    board_service.revoke_token(session, actor=user, token_id=token_id, now=now)
    return Response(status_code=204)
