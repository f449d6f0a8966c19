from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from api.deps import NowDep, OfficeUser, Reader, SessionDep, require_roles
from api.errors import ErrorEnvelope
from api.extension import schemas, service
from api.http import etag_of, json_response
from api.pagination import Page, paginate
from api.report.shared import load_assignment
from duban import calendar
from duban.models import ExtensionRequest, RequestState, Role, User

router = APIRouter(tags=["extensions"])

UnitHead = Annotated[User, Depends(require_roles(Role.unit_head))]

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    404: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


def _public(ext: ExtensionRequest, status_code: int = 200) -> Response:
    body = {c.key: getattr(ext, c.key) for c in service.COLUMNS}
    body["state"] = str(ext.state)
    body["warnings"] = calendar.warnings_for(ext.requested_due_date)
    return json_response(body, status_code, headers={"ETag": etag_of("extension", ext.id, ext.version)})


@router.post(
    "/assignments/{assignment_id}/extension-requests",
    status_code=201,
    response_model=schemas.ExtensionPublic,
    responses=_W,
)
def request_extension(
    assignment_id: int, body: schemas.ExtensionCreate, user: UnitHead, session: SessionDep, now: NowDep
) -> Any:
    """Ask the office for a later due date (unit head of the assignment's unit)."""
    assignment = load_assignment(session, user=user, assignment_id=assignment_id)
    ext = service.request(
        session=session,
        user=user,
        assignment=assignment,
        requested_due_date=body.requested_due_date,
        reason=body.reason,
        now=now,
    )
    return _public(ext, 201)


@router.get("/extension-requests", response_model=Page[schemas.ExtensionListItem])
def list_extensions(
    user: Reader,
    session: SessionDep,
    plan_id: int | None = None,
    unit_id: int | None = None,
    assignment_id: int | None = None,
    state: RequestState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Extension requests the caller may see, newest first."""
    stmt = service.list_stmt(
        user, filters={"plan_id": plan_id, "unit_id": unit_id, "assignment_id": assignment_id, "state": state}
    )
    page = paginate(session, stmt, order=service.order(), limit=limit, cursor=cursor)
    for item in page["items"]:
        item["warnings"] = calendar.warnings_for(item["requested_due_date"])
    return json_response(page)


@router.get("/extension-requests/{request_id}", response_model=schemas.ExtensionPublic, responses=_E)
def get_extension(request_id: int, user: Reader, session: SessionDep) -> Any:
    """One extension request."""
    return _public(service.get_visible(session, user=user, request_id=request_id))


@router.post("/extension-requests/{request_id}/approve", response_model=schemas.ExtensionPublic, responses=_W)
def approve_extension(
    request_id: int,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    body: schemas.ExtensionDecision | None = None,
) -> Any:
    """Approve: the assignment's due date moves to the requested day (or the next working day)."""
    ext = service.get_visible(session, user=user, request_id=request_id)
    return _public(
        service.decide(
            session=session, user=user, ext=ext, approve=True, comment=body.comment if body else None, now=now
        )
    )


@router.post("/extension-requests/{request_id}/reject", response_model=schemas.ExtensionPublic, responses=_W)
def reject_extension(
    request_id: int, body: schemas.ExtensionDecision, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Reject with a reason; the due date stays."""
    ext = service.get_visible(session, user=user, request_id=request_id)
    return _public(
        service.decide(session=session, user=user, ext=ext, approve=False, comment=body.comment, now=now)
    )
