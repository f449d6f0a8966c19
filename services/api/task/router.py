from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Session, col

from api import external
from api.deps import CurrentUser, NowDep, OfficeUser, SessionDep
from api.direct import direct
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, paginate
from api.pgwrite import On, Steps
from api.task import schemas, service
from api.writepath import Writer, writer
from duban.models import Recurrence, Role, Task, User

router = APIRouter(prefix="/tasks", tags=["tasks"])
# The lean writes (api.writepath): `async def`, authenticated by their own dependency.
write_router = APIRouter(prefix="/tasks", tags=["tasks"])
OfficeWriter = Annotated[Writer, Depends(writer(Role.office, Role.admin, scope="tasks:write"))]

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}
_U: dict[int | str, dict[str, Any]] = {**_E, **_W, 412: {"model": ErrorEnvelope}}


def _task_response(session: Any, user: Any, task: Task, now: Any, status_code: int = 200) -> Response:
    body = service.detail(session, user=user, task_id=task.id or 0, now=now)
    return json_response(body, status_code, headers={"ETag": etag_of("task", task.id, task.version)})


@router.get("", response_model=Page[schemas.TaskPublic])
def list_tasks(
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    plan_id: int | None = None,
    section_id: int | None = None,
    parent_id: Annotated[int | None, Query(description="只列该任务的子任务")] = None,
    top_level: Annotated[bool | None, Query(description="true：只列顶层任务")] = None,
    recurrence: Recurrence | None = None,
    q: Annotated[str | None, Query(max_length=100, description="编号或标题包含")] = None,
    external_id: Annotated[str | None, Query(max_length=100, description="外部编号")] = None,
    external_source_id: Annotated[int | None, Query(description=external.SOURCE_DOC)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Tasks in document order, with their units, targets and status derived from assignments."""
    stmt = external.filter_list(
        service.visible_tasks(user), Task, user=user, external_id=external_id, source_id=external_source_id
    )
    if plan_id is not None:
        stmt = stmt.where(col(Task.plan_id) == plan_id)
    if section_id is not None:
        stmt = stmt.where(col(Task.section_id) == section_id)
    if parent_id is not None:
        stmt = stmt.where(col(Task.parent_id) == parent_id)
    if top_level is True:
        stmt = stmt.where(col(Task.parent_id).is_(None))
    elif top_level is False:
        stmt = stmt.where(col(Task.parent_id).is_not(None))
    if recurrence is not None:
        stmt = stmt.where(col(Task.recurrence) == str(recurrence))
    if q:
        stmt = stmt.where(
            col(Task.title).contains(q, autoescape=True) | col(Task.code).contains(q, autoescape=True)
        )
    order = [(col(Task.plan_id), "asc"), (col(Task.position), "asc"), (col(Task.id), "asc")]
    page = paginate(session, stmt, order=order, limit=limit, cursor=cursor)
    service.enrich(session, user=user, rows=page["items"], now=now)
    return json_response(page)


@write_router.post(
    "",
    status_code=201,
    response_model=schemas.TaskPublic,
    responses={**_W, 200: {"model": schemas.TaskPublic, "description": "外部编号已存在：已更新"}},
)
@direct
async def create_task(body: schemas.TaskCreate, writer: OfficeWriter, now: NowDep) -> Any:
    """Create a task (or a subtask with `parent_id`) with its units and targets in document order.

    A repeated `external_id` of the caller updates that task instead and answers 200.
    With `assign: true` the task is also assigned (交办) to its units in the same transaction.
    """
    data = body.model_dump()

    def work(session: Session, user: User) -> tuple[dict[str, Any], int]:
        if service.lean_eligible(data):
            return service.create_lean(session, user=user, data=data, now=now), 201
        task, created = service.create(session, actor=user, data=data, now=now)
        return service.detail(session, user=user, task_id=task.id or 0, now=now), 201 if created else 200

    def pg(on: On, user: User, check: dict[str, Any] | None) -> Steps[tuple[dict[str, Any], int]]:
        return (yield from service.create_pg(on, user=user, check=check, data=data, now=now)), 201

    lean = service.lean_eligible(data)
    out, status = await writer.run(work, guarded=lean, pg=pg if lean else None)
    return json_response(out, status, headers={"ETag": etag_of("task", out["id"], out["version"])})


@router.put(
    "/by-external-id/{external_id}",
    response_model=schemas.TaskPublic,
    responses={**_W, 201: {"model": schemas.TaskPublic, "description": "已创建"}},
)
def put_task_by_external_id(
    external_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: schemas.TaskPut,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Create (201) or update (200) the task the caller knows by `external_id`."""
    data = {**body.model_dump(), "external_id": external_id}
    task, created = service.create(session, actor=user, data=data, now=now)
    return _task_response(session, user, task, now, 201 if created else 200)


@router.get("/{task_id}", response_model=schemas.TaskPublic, responses=_E)
def get_task(task_id: int, user: CurrentUser, session: SessionDep, now: NowDep) -> Any:
    """One task with its units, targets and derived status."""
    return _task_response(session, user, service.get(session, task_id=task_id), now)


@router.patch("/{task_id}", response_model=schemas.TaskPublic, responses=_U)
def update_task(
    task_id: int,
    body: schemas.TaskUpdate,
    request: Request,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change a task; `units` and `targets`, when given, replace the lists. Send `If-Match`."""
    task = service.get(session, task_id=task_id)
    check_if_match(request, kind="task", entity_id=task.id, version=task.version)
    task = service.update_task(
        session, actor=user, task=task, changes=body.model_dump(exclude_unset=True), now=now
    )
    return _task_response(session, user, task, now)


@router.delete("/{task_id}", status_code=204, responses={**_E, **_W})
def delete_task(task_id: int, user: OfficeUser, session: SessionDep, now: NowDep) -> Response:
    """Delete a task that has not been assigned and has no subtasks."""
    service.remove(session, actor=user, task=service.get(session, task_id=task_id), now=now)
    return Response(status_code=204)
