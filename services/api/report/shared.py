"""Helpers shared by the report, attachment, extension and instruction packages."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col

from api.assignment.service import event_context, visible_assignments
from duban.errors import Forbidden, NotFound
from duban.events import AssignmentEventData, Ref
from duban.models import Assignment, User


def load_assignment(session: Session, *, user: User, assignment_id: int) -> Assignment:
    """An assignment through the user's scope: another unit's id is simply not found."""
    found = session.exec(visible_assignments(user).where(col(Assignment.id) == assignment_id)).first()  # type: ignore[call-overload]
    if found is None:
        raise NotFound("交办任务不存在", code="assignment.not_found")
    assignment: Assignment = found[0] if not isinstance(found, Assignment) else found
    return assignment


def require_own_unit(user: User, unit_id: int | None, *, code: str) -> None:
    """Writes on unit data are made by that unit's own people (office reviews, it does not write)."""
    if user.unit_id is None or user.unit_id != unit_id:
        raise Forbidden("只有责任单位本单位人员可以执行此操作", code=code)


def actor_ref(user: User | None) -> Ref | None:
    return Ref(id=user.id, name=user.full_name or user.username) if user else None


def assignment_event(
    session: Session,
    cls: type[AssignmentEventData],
    *,
    assignment: Assignment,
    actor: User | None,
    **extra: Any,
) -> AssignmentEventData:
    plan, task, unit = event_context(session, assignment)
    return cls(
        plan=Ref(id=assignment.plan_id, name=plan.title),
        task=Ref(id=assignment.task_id, name=task.title, code=task.code),
        unit=Ref(id=assignment.unit_id, name=unit.name),
        assignment_id=assignment.id or 0,
        state=str(assignment.state),
        due_date=assignment.due_date,
        actor=actor_ref(actor),
        **extra,
    )
