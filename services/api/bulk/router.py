from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.bulk import schemas, service
from api.deps import NowDep, OfficeUser, SessionDep
from api.errors import ErrorEnvelope
from api.http import json_response

router = APIRouter(prefix="/bulk", tags=["bulk"])

_R: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


@router.post("/tasks", response_model=schemas.BulkResult, responses=_R)
def bulk_tasks(body: schemas.BulkTasksRequest, user: OfficeUser, session: SessionDep, now: NowDep) -> Any:
    """Create or update up to 200 tasks by external id in one request (items: BulkTaskItem).

    Each item succeeds or fails on its own (`results`, in order, with its index); the successful
    ones are written in one transaction. `assign: true` also assigns (交办) the task to its units.
    Sending the same items again updates them: no duplicates.
    """
    return json_response(service.tasks(session, actor=user, items=body.items, now=now))


@router.post("/assignments", response_model=schemas.BulkResult, responses=_R)
def bulk_assignments(
    body: schemas.BulkAssignmentsRequest, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Assign up to 200 (task, unit) pairs by external id in one request (items: BulkAssignmentItem).

    An external id already used answers that assignment (`existing`) without changing it; each
    item succeeds or fails on its own, the successful ones in one transaction.
    """
    return json_response(service.assignments(session, actor=user, items=body.items, now=now))
