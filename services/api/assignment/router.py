from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import Select
from sqlmodel import Session, col

from api import external
from api.assignment import schemas, service
from api.assignment.deps import ValidAssignment
from api.deps import NowDep, OfficeUser, SessionDep, require_roles
from api.direct import direct
from api.errors import ErrorEnvelope
from api.hotpath import HotReader, Template
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, page_of, page_statement
from api.writepath import Writer, writer
from duban.errors import NotFound, Unprocessable
from duban.models import Assignment, AssignmentState, Role, Task, UnitRole, User

router = APIRouter(tags=["assignments"])
# The hot reads (api.hotpath): `async def`, authenticated by their own dependency, so mounted
# without the blanket `get_current_user` of the other /api/v1 routers (api.main).
read_router = APIRouter(tags=["assignments"])
# The lean writes (api.writepath): `async def`, authenticated by their own dependency too.
write_router = APIRouter(tags=["assignments"])

# The role gate runs before the assignment is loaded, so a refused role is 403 whatever the id;
# "own unit only" is then checked against the loaded row.
UnitHead = Annotated[User, Depends(require_roles(Role.unit_head))]
UnitHeadWriter = Annotated[Writer, Depends(writer(Role.unit_head))]

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_A: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    404: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    412: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}

Sort = Literal["due_date", "-due_date", "id", "-id", "updated_at", "-updated_at"]


def _detail(
    session: Session, user: User, assignment_id: int, now: datetime, status_code: int = 200
) -> Response:
    body = service.read_row(session, user=user, assignment_id=assignment_id, now=now)
    body["history"] = service.history(session, assignment_id=assignment_id)
    etag = etag_of("assignment", assignment_id, body["version"])
    return json_response(body, status_code, headers={"ETag": etag})


@read_router.get("/assignments", response_model=Page[schemas.AssignmentPublic])
@direct
async def list_assignments(
    reader: HotReader,
    now: NowDep,
    plan_id: int | None = None,
    section_id: int | None = None,
    task_id: int | None = None,
    unit_id: int | None = None,
    role: Annotated[list[UnitRole] | None, Query()] = None,
    state: Annotated[list[AssignmentState] | None, Query()] = None,
    overdue: bool | None = None,
    due_before: Annotated[date | None, Query(description="截止日期不晚于（含）")] = None,
    due_after: Annotated[date | None, Query(description="截止日期不早于（含）")] = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
    min_working_days_overdue: Annotated[
        int | None, Query(ge=1, le=365, description="逾期至少 N 个工作日（未办结）")
    ] = None,
    report_missing: Annotated[
        str | None,
        Query(
            max_length=10, description="未办结且该报告期（如 2025-06）进展未提交或未通过：报告提醒所指的事项"
        ),
    ] = None,
    external_id: Annotated[str | None, Query(max_length=100, description="外部编号")] = None,
    external_source_id: Annotated[int | None, Query(description=external.SOURCE_DOC)] = None,
    sort: Sort = "due_date",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Assignments the caller may see, filtered and sorted, one page at a time."""
    order = service.SORTS[sort]

    def build(user: User) -> Select[Any]:
        stmt = service.apply_filters(
            service.list_statement(user, sort=sort),
            now=now,
            plan_id=plan_id,
            section_id=section_id,
            task_id=task_id,
            unit_id=unit_id,
            role=role,
            state=state,
            overdue=overdue,
            due_before=due_before,
            due_after=due_after,
            period=period,
            min_working_days_overdue=min_working_days_overdue,
            report_missing=report_missing,
        )
        stmt = external.filter_list(
            stmt, Assignment, user=user, external_id=external_id, source_id=external_source_id
        )
        return page_statement(stmt, order=order, limit=limit, cursor=cursor)

    (rows,) = await reader.rows(build)
    page = page_of(rows, order=order, limit=limit)
    service.decorate(page["items"], now=now)
    return json_response(page)


def _rows(session: Session, user: User, ids: list[int], now: datetime) -> list[dict[str, Any]]:
    if not ids:
        return []
    stmt = service.list_statement(user, sort="id").where(col(Assignment.id).in_(ids))
    rows = [dict(r) for r in session.execute(stmt.order_by(col(Assignment.id))).mappings()]
    return service.decorate(rows, now=now)


def _task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("任务不存在", code="task.not_found", details={"task_id": task_id})
    return task


@router.post(
    "/tasks/{task_id}/assignments",
    status_code=201,
    response_model=schemas.AssignResult,
    responses={**_A, 200: {"model": schemas.AssignResult, "description": "外部编号已存在：答复原事项"}},
)
def assign_task(
    task_id: int, body: schemas.AssignRequest, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """交办: assign a task to units or unit groups (default: the task's own units); repeats create nothing.

    With `external_id` (one unit): the caller's id for that one assignment; a repeat answers 200
    with it under `existing`.
    """
    task = _task(session, task_id)
    if body.external_id is not None:
        if len(body.unit_ids) != 1 or body.group_ids:
            raise Unprocessable(
                "外部编号只能对应一个交办事项：请只指定一个单位",
                code="assignment.external_id_needs_one",
                details={"unit_ids": body.unit_ids, "group_ids": body.group_ids},
            )
        one, created = service.assign_external(
            session=session,
            task=task,
            unit_id=body.unit_ids[0],
            actor=user,
            now=now,
            external_id=body.external_id,
            role=body.role,
            due_date=body.due_date,
            period=body.period,
        )
        if created:
            return json_response({"created": _rows(session, user, [one.id or 0], now), "skipped": 0}, 201)
        return json_response(
            {"created": [], "skipped": 1, "existing": _rows(session, user, [one.id or 0], now)}, 200
        )
    result = service.assign(
        session=session,
        task=task,
        actor=user,
        now=now,
        unit_ids=body.unit_ids,
        group_ids=body.group_ids,
        role=body.role,
        due_date=body.due_date,
        period=body.period,
    )
    ids = [a.id for a in result.created if a.id is not None]
    return json_response({"created": _rows(session, user, ids, now), "skipped": result.skipped}, 201)


@router.put(
    "/assignments/by-external-id/{external_id}",
    response_model=schemas.AssignmentDetail,
    responses={**_A, 201: {"model": schemas.AssignmentDetail, "description": "已创建"}},
)
def put_assignment_by_external_id(
    external_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: schemas.AssignmentPut,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Assign a task to one unit under the caller's `external_id` (201), or answer that assignment (200).

    A repeat changes nothing: the state, due date and unit move through the actions only.
    """
    one, created = service.assign_external(
        session=session,
        task=_task(session, body.task_id),
        unit_id=body.unit_id,
        actor=user,
        now=now,
        external_id=external_id,
        role=body.role,
        due_date=body.due_date,
        period=body.period,
    )
    return _detail(session, user, one.id or 0, now, 201 if created else 200)


# Built once per viewer scope, compiled once (api.hotpath.Template): a request binds its values.
DETAIL = Template(
    lambda user: service.detail_statement(user, sa.bindparam("assignment_id", type_=sa.Integer)),
    scope=service.scope_key,
)
HISTORY = Template(lambda _user: service.history_statement(sa.bindparam("entity_id", type_=sa.String)))


@read_router.get("/assignments/{assignment_id}", response_model=schemas.AssignmentDetail, responses=_E)
@direct
async def get_assignment(assignment_id: int, reader: HotReader, now: NowDep) -> Any:
    """One assignment with its derived overdue status, the caller's allowed actions and its history."""
    row, history = await reader.rows(
        DETAIL.bind(assignment_id=assignment_id), lambda: HISTORY.bind(entity_id=str(assignment_id))
    )
    body = service.detail_row(row[0] if row else None, user=reader.user, assignment_id=assignment_id, now=now)
    body["history"] = service.history_entries(history)
    return json_response(body, headers={"ETag": etag_of("assignment", assignment_id, body["version"])})


@router.get("/assignments/{assignment_id}/history", response_model=list[schemas.HistoryEntry], responses=_E)
def get_history(assignment: ValidAssignment, session: SessionDep) -> Any:
    """Every state change of an assignment, from the audit log."""
    return json_response(service.history(session, assignment_id=assignment.id or 0))


def _act(
    action: str,
    assignment: Assignment,
    request: Request,
    user: User,
    session: Session,
    now: datetime,
    reason: str | None,
) -> Response:
    check_if_match(request, kind="assignment", entity_id=assignment.id, version=assignment.version)
    service.transition(
        session=session, assignment=assignment, action=action, actor=user, now=now, reason=reason
    )
    return _detail(session, user, assignment.id or 0, now)


@write_router.post(
    "/assignments/{assignment_id}/accept", response_model=schemas.AssignmentDetail, responses=_A
)
@direct
async def accept(
    assignment_id: int,
    writer: UnitHeadWriter,
    request: Request,
    now: NowDep,
    body: schemas.ActionRequest | None = None,
) -> Any:
    """签收: the unit head acknowledges the assignment."""
    reason = body.reason if body else None

    def check(version: int) -> None:
        check_if_match(request, kind="assignment", entity_id=assignment_id, version=version)

    out = await writer.run(
        lambda session, user: service.act(
            session,
            user=user,
            assignment_id=assignment_id,
            action="accept",
            now=now,
            reason=reason,
            check_version=check,
        ),
        guarded=True,
        pg=lambda on, user, principal: service.act_pg(
            on,
            user=user,
            check=principal,
            assignment_id=assignment_id,
            action="accept",
            now=now,
            reason=reason,
            check_version=check,
        ),
    )
    return json_response(out, headers={"ETag": etag_of("assignment", assignment_id, out["version"])})


@router.post("/assignments/{assignment_id}/return", response_model=schemas.AssignmentDetail, responses=_A)
def return_assignment(
    user: UnitHead,
    assignment: ValidAssignment,
    request: Request,
    session: SessionDep,
    now: NowDep,
    body: schemas.ActionRequest,
) -> Any:
    """退回: the unit head sends the assignment back to the office, with a reason."""
    return _act("return", assignment, request, user, session, now, body.reason)


@router.post(
    "/assignments/{assignment_id}/request-completion", response_model=schemas.AssignmentDetail, responses=_A
)
def request_completion(
    user: UnitHead,
    assignment: ValidAssignment,
    request: Request,
    session: SessionDep,
    now: NowDep,
    body: schemas.ActionRequest | None = None,
) -> Any:
    """申请办结: the unit head reports the assignment done and asks the office to confirm."""
    return _act("request-completion", assignment, request, user, session, now, body.reason if body else None)


@router.post("/assignments/{assignment_id}/approve", response_model=schemas.AssignmentDetail, responses=_A)
def approve(
    user: OfficeUser,
    assignment: ValidAssignment,
    request: Request,
    session: SessionDep,
    now: NowDep,
    body: schemas.ActionRequest | None = None,
) -> Any:
    """办结: the office confirms completion."""
    return _act("approve", assignment, request, user, session, now, body.reason if body else None)


@router.post("/assignments/{assignment_id}/reject", response_model=schemas.AssignmentDetail, responses=_A)
def reject(
    user: OfficeUser,
    assignment: ValidAssignment,
    request: Request,
    session: SessionDep,
    now: NowDep,
    body: schemas.ActionRequest,
) -> Any:
    """驳回: the office sends a completion request back to the unit, with a reason."""
    return _act("reject", assignment, request, user, session, now, body.reason)


@router.post("/assignments/{assignment_id}/cancel", response_model=schemas.AssignmentDetail, responses=_A)
def cancel(
    user: OfficeUser,
    assignment: ValidAssignment,
    request: Request,
    session: SessionDep,
    now: NowDep,
    body: schemas.ActionRequest | None = None,
) -> Any:
    """撤销: the office cancels an open assignment."""
    return _act("cancel", assignment, request, user, session, now, body.reason if body else None)


@router.post("/assignments/{assignment_id}/reassign", response_model=schemas.AssignmentDetail, responses=_A)
def reassign(
    user: OfficeUser,
    assignment: ValidAssignment,
    request: Request,
    session: SessionDep,
    now: NowDep,
    body: schemas.ReassignRequest | None = None,
) -> Any:
    """重新交办: the office answers a return, to the same unit or another (the returned one is cancelled)."""
    body = body or schemas.ReassignRequest()
    check_if_match(request, kind="assignment", entity_id=assignment.id, version=assignment.version)
    result = service.reassign(
        session=session,
        assignment=assignment,
        actor=user,
        now=now,
        unit_id=body.unit_id,
        due_date=body.due_date,
        reason=body.reason,
    )
    return _detail(session, user, result.id or 0, now)
