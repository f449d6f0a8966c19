"""延期申请: a unit asks for a later due date; the office decides, and approval moves the deadline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, col, select

from api.assignment.service import scoped
from api.report.shared import assignment_event, require_own_unit
from duban import calendar, zones
from duban.db import columns
from duban.errors import Conflict, IllegalTransition, NotFound, Unprocessable
from duban.events import ExtensionDecided, ExtensionRequested
from duban.models import OPEN_STATES, Assignment, ExtensionRequest, Plan, RequestState, Task, Unit, User
from duban.uow import unit_of_work

COLUMNS = columns(
    ExtensionRequest.id,
    ExtensionRequest.assignment_id,
    ExtensionRequest.unit_id,
    ExtensionRequest.requested_due_date,
    ExtensionRequest.previous_due_date,
    ExtensionRequest.reason,
    ExtensionRequest.state,
    ExtensionRequest.requested_by_id,
    ExtensionRequest.decided_by_id,
    ExtensionRequest.decided_at,
    ExtensionRequest.decision_comment,
    ExtensionRequest.version,
    ExtensionRequest.created_at,
    ExtensionRequest.updated_at,
)


def visible_extensions(user: User, *columns: Any) -> Select[Any]:
    stmt = select(*columns) if columns else select(ExtensionRequest)
    return scoped(stmt, user, ExtensionRequest.unit_id)


def get_visible(session: Session, *, user: User, request_id: int) -> ExtensionRequest:
    found = session.exec(visible_extensions(user).where(col(ExtensionRequest.id) == request_id)).first()  # type: ignore[call-overload]
    if found is None:
        raise NotFound("延期申请不存在", code="extension.not_found")
    request: ExtensionRequest = found
    return request


def _require_open(assignment: Assignment) -> None:
    if assignment.state not in OPEN_STATES:
        raise Conflict(
            "任务已办结或已撤销，不能延期",
            code="extension.assignment_closed",
            details={"assignment_state": str(assignment.state)},
        )


def request(
    *,
    session: Session,
    user: User,
    assignment: Assignment,
    requested_due_date: date,
    reason: str,
    now: datetime,
) -> ExtensionRequest:
    require_own_unit(user, assignment.unit_id, code="extension.not_own_unit")
    _require_open(assignment)
    if not reason.strip():
        raise Unprocessable("请填写延期理由", code="extension.reason_required")
    if assignment.due_date is not None and requested_due_date <= assignment.due_date:
        raise Unprocessable(
            "申请的截止日期须晚于当前截止日期",
            code="extension.not_later",
            details={"current_due_date": assignment.due_date.isoformat()},
        )
    pending = session.exec(
        select(ExtensionRequest.id).where(
            ExtensionRequest.assignment_id == assignment.id, ExtensionRequest.state == RequestState.pending
        )
    ).first()
    if pending is not None:
        raise Conflict(
            "该任务已有待审批的延期申请", code="extension.pending_exists", details={"request_id": pending}
        )
    with unit_of_work(session, actor=user, now=now) as uow:
        # One pending request per assignment: a concurrent second request conflicts on this.
        uow.guard(assignment)
        ext = uow.add(
            ExtensionRequest(
                assignment_id=assignment.id or 0,
                unit_id=assignment.unit_id,
                requested_due_date=requested_due_date,
                previous_due_date=assignment.due_date,
                reason=reason.strip(),
                requested_by_id=user.id,
                created_at=now,
                updated_at=now,
            ),
            action="extension.request",
        )
        event = assignment_event(
            session,
            ExtensionRequested,
            assignment=assignment,
            actor=user,
            requested_due_date=requested_due_date,
            reason=ext.reason,
        )
        uow.emit(event, plan_id=assignment.plan_id, assignment_id=assignment.id, unit_id=assignment.unit_id)
    return ext


def decide(
    *, session: Session, user: User, ext: ExtensionRequest, approve: bool, comment: str | None, now: datetime
) -> ExtensionRequest:
    action = "approve" if approve else "reject"
    if ext.state != RequestState.pending:
        raise IllegalTransition(action=action, state=str(ext.state), allowed=[], entity="extension")
    if not approve and not (comment and comment.strip()):
        raise Unprocessable("驳回延期申请须填写理由", code="extension.reason_required")
    assignment = session.get(Assignment, ext.assignment_id)
    if assignment is None:
        raise NotFound("交办任务不存在", code="assignment.not_found")
    if approve:
        _require_open(assignment)
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.track(ext, action=f"extension.{action}")
        ext.state = RequestState.approved if approve else RequestState.rejected
        ext.decided_by_id = user.id
        ext.decided_at = now
        ext.decision_comment = comment.strip() if comment else None
        if approve:
            plan = session.get(Plan, assignment.plan_id)
            zone = zones.of_plan(plan)
            uow.track(assignment, action="assignment.extend")
            ext.previous_due_date = assignment.due_date
            if assignment.original_due_date is None:
                assignment.original_due_date = assignment.due_date
            # The requested day may be a holiday or rest day: the deadline is the next working day.
            assignment.due_date = calendar.effective_due_date(ext.requested_due_date)
            assignment.due_at = calendar.due_at_for(ext.requested_due_date, zone)
            assignment.extension_count += 1
        event = assignment_event(
            session,
            ExtensionDecided,
            assignment=assignment,
            actor=user,
            approved=approve,
            reason=ext.decision_comment,
        )
        uow.emit(event, plan_id=assignment.plan_id, assignment_id=assignment.id, unit_id=assignment.unit_id)
    return ext


# What a list item names besides ids, so a client shows a queue without one request per row.
NAME_COLUMNS: tuple[Any, ...] = (
    col(Task.id).label("task_id"),
    col(Task.code).label("task_code"),
    col(Task.title).label("task_title"),
    col(Unit.name).label("unit_name"),
)


def list_stmt(user: User, *, filters: dict[str, Any]) -> Select[Any]:
    stmt = (
        visible_extensions(user, *COLUMNS, *NAME_COLUMNS)
        .join(Assignment, col(Assignment.id) == col(ExtensionRequest.assignment_id))
        .join(Task, col(Task.id) == col(Assignment.task_id))
        .join(Unit, col(Unit.id) == col(ExtensionRequest.unit_id))
    )
    for name in ("assignment_id", "unit_id", "state"):
        value = filters.get(name)
        if value is not None:
            stmt = stmt.where(getattr(ExtensionRequest, name) == (str(value) if name == "state" else value))
    if filters.get("plan_id") is not None:
        stmt = stmt.where(col(Assignment.plan_id) == filters["plan_id"])
    return stmt


def order() -> list[tuple[Any, str]]:
    return [(col(ExtensionRequest.id), "desc")]
