from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from api.attachment import service as attachment_service
from api.deps import NowDep, OfficeUser, Reader, SessionDep, require_roles
from api.direct import direct
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, paginate
from api.report import schemas, service
from api.writepath import Writer, writer
from duban.models import ProgressReport, ProgressReportState, Role, User

router = APIRouter(tags=["reports"])
# The lean writes (api.writepath): `async def`, authenticated by their own dependency.
write_router = APIRouter(tags=["reports"])

UnitMember = Annotated[User, Depends(require_roles(Role.unit_head, Role.unit_staff))]
UnitMemberWriter = Annotated[Writer, Depends(writer(Role.unit_head, Role.unit_staff))]

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    404: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


def _public(session: Any, report: ProgressReport, status_code: int = 200) -> Response:
    body = {c.key: getattr(report, c.key) for c in service.REPORT_COLUMNS}
    body["state"] = str(report.state)
    body["text"] = report.text
    body["indicator_values"] = report.indicator_values
    body["attachments"] = attachment_service.list_for_owner(
        session, owner_type="progress_report", owner_id=report.id or 0
    )
    return json_response(body, status_code, headers={"ETag": etag_of("report", report.id, report.version)})


@write_router.post(
    "/assignments/{assignment_id}/reports", status_code=201, response_model=schemas.ReportPublic, responses=_W
)
@direct
async def create_report(
    assignment_id: int, body: schemas.ReportCreate, writer: UnitMemberWriter, now: NowDep
) -> Any:
    """Draft the progress report of one period (default: the current one) for the unit's assignment.

    With `submit: true` the report is submitted in the same request (one transaction).
    """
    data = body.model_dump(exclude_unset=True)
    out = await writer.run(
        lambda session, user: service.create_lean(
            session, user=user, assignment_id=assignment_id, data=data, now=now
        ),
        guarded=True,
        # Indicator values are checked against the plan's indicators: the unit of work's path.
        pg=None
        if data.get("indicator_values")
        else lambda on, user, principal: service.create_pg(
            on, user=user, check=principal, assignment_id=assignment_id, data=data, now=now
        ),
    )
    return json_response(out, 201, headers={"ETag": etag_of("report", out["id"], out["version"])})


@router.get("/reports", response_model=Page[schemas.ReportListItem])
def list_reports(
    user: Reader,
    session: SessionDep,
    plan_id: int | None = None,
    unit_id: int | None = None,
    assignment_id: int | None = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
    state: ProgressReportState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Reports the caller may see, newest first."""
    stmt = service.list_stmt(
        user,
        filters={
            "plan_id": plan_id,
            "unit_id": unit_id,
            "assignment_id": assignment_id,
            "period": period,
            "state": state,
        },
    )
    return json_response(paginate(session, stmt, order=service.order(), limit=limit, cursor=cursor))


@router.get("/reports/{report_id}", response_model=schemas.ReportPublic, responses=_E)
def get_report(report_id: int, user: Reader, session: SessionDep) -> Any:
    """One report with its indicator values and attachments."""
    return _public(session, service.get_visible(session, user=user, report_id=report_id))


@router.patch(
    "/reports/{report_id}",
    response_model=schemas.ReportPublic,
    responses={**_W, 412: {"model": ErrorEnvelope}},
)
def update_report(
    report_id: int,
    body: schemas.ReportUpdate,
    request: Request,
    user: UnitMember,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Edit a draft or rejected report; send `If-Match` with its ETag."""
    report = service.get_visible(session, user=user, report_id=report_id)
    check_if_match(request, kind="report", entity_id=report.id, version=report.version)
    report = service.update(
        session=session, user=user, report=report, changes=body.model_dump(exclude_unset=True), now=now
    )
    return _public(session, report)


@router.post("/reports/{report_id}/submit", response_model=schemas.ReportPublic, responses=_W)
def submit_report(report_id: int, user: UnitMember, session: SessionDep, now: NowDep) -> Any:
    """Submit a draft (or a rejected report, corrected) for the office's review."""
    report = service.get_visible(session, user=user, report_id=report_id)
    return _public(session, service.submit(session=session, user=user, report=report, now=now))


@router.post("/reports/{report_id}/approve", response_model=schemas.ReportPublic, responses=_W)
def approve_report(
    report_id: int,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    body: schemas.ReportReview | None = None,
) -> Any:
    """Approve a submitted report: its percent and indicator values become the assignment's."""
    report = service.get_visible(session, user=user, report_id=report_id)
    return _public(
        session,
        service.review(
            session=session,
            user=user,
            report=report,
            approve=True,
            comment=body.reason if body else None,
            now=now,
        ),
    )


@router.post("/reports/{report_id}/reject", response_model=schemas.ReportPublic, responses=_W)
def reject_report(
    report_id: int, body: schemas.ReportReview, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Send a submitted report back to the unit with a reason."""
    report = service.get_visible(session, user=user, report_id=report_id)
    return _public(
        session,
        service.review(
            session=session, user=user, report=report, approve=False, comment=body.reason, now=now
        ),
    )
