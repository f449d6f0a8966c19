"""批示 (a leader's instruction on a task, which the assigned units answer) and assignment comments."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_
from sqlmodel import Session, col, select

from api.assignment.service import scoped, unit_scope_clause, visible_assignments
from api.report.shared import actor_ref
from duban.db import columns
from duban.errors import Forbidden, NotFound, Unprocessable
from duban.events import InstructionIssued, InstructionReplied, Ref
from duban.models import (
    Assignment,
    AssignmentState,
    Comment,
    Instruction,
    InstructionReply,
    Plan,
    Task,
    Unit,
    User,
)
from duban.uow import UnitOfWork, unit_of_work

COLUMNS = columns(
    Instruction.id,
    Instruction.task_id,
    Instruction.assignment_id,
    Instruction.author_id,
    Instruction.text,
    Instruction.reply_due_date,
    Instruction.version,
    Instruction.created_at,
    Instruction.updated_at,
)
REPLY_COLUMNS = columns(
    InstructionReply.id,
    InstructionReply.instruction_id,
    InstructionReply.unit_id,
    InstructionReply.author_id,
    InstructionReply.text,
    InstructionReply.created_at,
)
COMMENT_COLUMNS = columns(
    Comment.id,
    Comment.assignment_id,
    Comment.unit_id,
    Comment.author_id,
    Comment.text,
    Comment.created_at,
)


def visible_instructions(user: User, *columns: Any) -> Select[Any]:
    """County-wide roles see all; a unit sees those on tasks it is assigned (or on its own assignment)."""
    stmt = select(*columns) if columns else select(Instruction)
    if unit_scope_clause(user, Assignment.unit_id) is None:
        return stmt
    task_ids = visible_assignments(user, Assignment.task_id)
    assignment_ids = visible_assignments(user, Assignment.id)
    return stmt.where(
        or_(
            and_(col(Instruction.assignment_id).is_(None), col(Instruction.task_id).in_(task_ids)),
            col(Instruction.assignment_id).in_(assignment_ids),
        )
    )


def get_visible(session: Session, *, user: User, instruction_id: int) -> Instruction:
    found = session.exec(visible_instructions(user).where(col(Instruction.id) == instruction_id)).first()  # type: ignore[call-overload]
    if found is None:
        raise NotFound("批示不存在", code="instruction.not_found")
    instruction: Instruction = found
    return instruction


def get_task(session: Session, *, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("任务不存在", code="task.not_found")
    return task


def target_units(
    session: Session, *, user: User | None, instructions: list[dict[str, Any]]
) -> dict[int, list[int]]:
    """instruction id → the units that must answer it (within the caller's scope; None: unscoped)."""
    task_ids = {i["task_id"] for i in instructions if i["assignment_id"] is None}
    assignment_ids = {i["assignment_id"] for i in instructions if i["assignment_id"] is not None}
    by_task: dict[int, set[int]] = defaultdict(set)
    by_assignment: dict[int, int] = {}
    if task_ids or assignment_ids:
        cols = (col(Assignment.id), col(Assignment.task_id), col(Assignment.unit_id))
        base = visible_assignments(user, *cols) if user is not None else select(*cols)
        stmt = base.where(
            col(Assignment.state) != AssignmentState.cancelled,
            or_(col(Assignment.task_id).in_(task_ids), col(Assignment.id).in_(assignment_ids)),
        )
        for row in session.execute(stmt).mappings():
            by_task[row["task_id"]].add(row["unit_id"])
            by_assignment[row["id"]] = row["unit_id"]
    out = {}
    for i in instructions:
        if i["assignment_id"] is not None:
            unit = by_assignment.get(i["assignment_id"])
            out[i["id"]] = [unit] if unit is not None else []
        else:
            out[i["id"]] = sorted(by_task.get(i["task_id"], set()))
    return out


def with_status(session: Session, *, user: User, instructions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add which units have replied and which have not yet (a unit user sees only its own)."""
    if not instructions:
        return instructions
    targets = target_units(session, user=user, instructions=instructions)
    ids = [i["id"] for i in instructions]
    replied: dict[int, set[int]] = defaultdict(set)
    stmt = select(InstructionReply.instruction_id, InstructionReply.unit_id).where(
        col(InstructionReply.instruction_id).in_(ids)
    )
    clause = unit_scope_clause(user, InstructionReply.unit_id)
    if clause is not None:
        stmt = stmt.where(clause)
    for row in session.execute(stmt).mappings():
        replied[row["instruction_id"]].add(row["unit_id"])
    for i in instructions:
        units = targets[i["id"]]
        done = replied[i["id"]]
        i["unit_ids"] = units
        i["replied_unit_ids"] = sorted(done)
        i["pending_unit_ids"] = [u for u in units if u not in done]
    return instructions


def public(session: Session, *, user: User, instruction: Instruction) -> dict[str, Any]:
    body = {c.key: getattr(instruction, c.key) for c in COLUMNS}
    task = session.get(Task, instruction.task_id)
    author = session.get(User, instruction.author_id) if instruction.author_id is not None else None
    body["task_code"] = task.code if task else ""
    body["task_title"] = task.title if task else ""
    body["plan_id"] = task.plan_id if task else 0
    body["author_name"] = (author.full_name or author.username) if author else None
    with_status(session, user=user, instructions=[body])
    stmt = select(*REPLY_COLUMNS).where(InstructionReply.instruction_id == instruction.id)
    clause = unit_scope_clause(user, InstructionReply.unit_id)
    if clause is not None:
        stmt = stmt.where(clause)
    body["replies"] = [dict(r) for r in session.execute(stmt.order_by(col(InstructionReply.id))).mappings()]
    return body


def issue(*, session: Session, user: User, task: Task, data: dict[str, Any], now: datetime) -> Instruction:
    assignment_id = data.get("assignment_id")
    if assignment_id is not None:
        assignment = session.get(Assignment, assignment_id)
        if assignment is None or assignment.task_id != task.id:
            raise Unprocessable(
                "该交办不属于此任务",
                code="instruction.assignment_mismatch",
                details={"assignment_id": assignment_id},
            )
    instruction = Instruction(
        task_id=task.id or 0,
        assignment_id=assignment_id,
        author_id=user.id,
        text=data["text"].strip(),
        reply_due_date=data.get("reply_due_date"),
        created_at=now,
        updated_at=now,
    )
    if not instruction.text:
        raise Unprocessable("批示内容不能为空", code="instruction.text_required")
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.add(instruction, action="instruction.issue")
        uow.flush()
        _announce_issue(session, uow, task=task, instruction=instruction, assignment_id=assignment_id)
    return instruction


def _announce_issue(
    session: Session, uow: UnitOfWork, *, task: Task, instruction: Instruction, assignment_id: int | None
) -> None:
    row = {c.key: getattr(instruction, c.key) for c in COLUMNS}
    # Everyone who must answer is told, whatever the issuer's own scope.
    unit_ids = target_units(session, user=None, instructions=[row])[instruction.id or 0]
    plan = session.get(Plan, task.plan_id)
    event = InstructionIssued(
        plan=Ref(id=task.plan_id, name=plan.title if plan else None),
        task=Ref(id=task.id, name=task.title, code=task.code),
        instruction_id=instruction.id or 0,
        text=instruction.text,
        unit_ids=unit_ids,
    )
    uow.emit(event, plan_id=task.plan_id, assignment_id=assignment_id)


def reply(
    *, session: Session, user: User, instruction: Instruction, text: str, now: datetime
) -> InstructionReply:
    row = {c.key: getattr(instruction, c.key) for c in COLUMNS}
    if (
        user.unit_id is None
        or user.unit_id not in target_units(session, user=user, instructions=[row])[row["id"]]
    ):
        raise Forbidden("只有被批示的责任单位可以回复", code="instruction.not_addressed")
    if not text.strip():
        raise Unprocessable("回复内容不能为空", code="instruction.text_required")
    answer = InstructionReply(
        instruction_id=instruction.id or 0,
        unit_id=user.unit_id,
        author_id=user.id,
        text=text.strip(),
        created_at=now,
    )
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.add(answer, action="instruction.reply")
        uow.flush()
        _announce_reply(session, uow, user=user, instruction=instruction, answer=answer)
    return answer


def _announce_reply(
    session: Session, uow: UnitOfWork, *, user: User, instruction: Instruction, answer: InstructionReply
) -> None:
    task = session.get(Task, instruction.task_id)
    plan = session.get(Plan, task.plan_id) if task else None
    unit = session.get(Unit, user.unit_id)
    event = InstructionReplied(
        plan=Ref(id=plan.id if plan else None, name=plan.title if plan else None),
        task=Ref(id=instruction.task_id, name=task.title if task else None, code=task.code if task else None),
        unit=Ref(id=user.unit_id, name=unit.name if unit else None),
        instruction_id=instruction.id or 0,
        reply_id=answer.id or 0,
        text=answer.text,
        actor=actor_ref(user),
    )
    uow.emit(
        event,
        plan_id=plan.id if plan else None,
        assignment_id=instruction.assignment_id,
        unit_id=user.unit_id,
    )


def author_name() -> Any:
    """A person's display name: the full name, or the user name when none is set."""
    return func.coalesce(func.nullif(col(User.full_name), ""), col(User.username))


def _targets(user: User, *, unit_id: int | None = None, unanswered: bool = False) -> Any:
    """EXISTS: a (visible, not cancelled) assignment this instruction asks to answer — of `unit_id`,
    and/or whose unit has not replied yet. The same targets as `target_units`, in SQL."""
    stmt = visible_assignments(user, Assignment.id).where(
        col(Assignment.state) != AssignmentState.cancelled,
        or_(
            and_(
                col(Instruction.assignment_id).is_(None), col(Assignment.task_id) == col(Instruction.task_id)
            ),
            col(Assignment.id) == col(Instruction.assignment_id),
        ),
    )
    if unit_id is not None:
        stmt = stmt.where(col(Assignment.unit_id) == unit_id)
    if unanswered:
        stmt = stmt.where(
            ~exists().where(
                col(InstructionReply.instruction_id) == col(Instruction.id),
                col(InstructionReply.unit_id) == col(Assignment.unit_id),
            )
        )
    return exists(stmt.correlate(Instruction))


def list_stmt(user: User, *, filters: dict[str, Any]) -> Select[Any]:
    stmt = (
        visible_instructions(
            user,
            *COLUMNS,
            col(Task.code).label("task_code"),
            col(Task.title).label("task_title"),
            col(Task.plan_id).label("plan_id"),
            author_name().label("author_name"),
        )
        .join(Task, col(Task.id) == col(Instruction.task_id))
        .outerjoin(User, col(User.id) == col(Instruction.author_id))
    )
    if filters.get("task_id") is not None:
        stmt = stmt.where(Instruction.task_id == filters["task_id"])
    if filters.get("assignment_id") is not None:
        stmt = stmt.where(Instruction.assignment_id == filters["assignment_id"])
    if filters.get("plan_id") is not None:
        stmt = stmt.where(col(Task.plan_id) == filters["plan_id"])
    if filters.get("unit_id") is not None:
        stmt = stmt.where(_targets(user, unit_id=filters["unit_id"]))
    pending = filters.get("pending")
    if pending is not None:
        clause = _targets(user, unit_id=filters.get("unit_id"), unanswered=True)
        stmt = stmt.where(clause if pending else ~clause)
    return stmt


def add_comment(*, session: Session, user: User, assignment: Assignment, text: str, now: datetime) -> Comment:
    if not text.strip():
        raise Unprocessable("评论内容不能为空", code="comment.text_required")
    comment = Comment(
        assignment_id=assignment.id or 0,
        unit_id=assignment.unit_id,
        author_id=user.id,
        text=text.strip(),
        created_at=now,
    )
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.add(comment, action="comment.create")
    return comment


def comments_stmt(user: User, *, assignment_id: int) -> Select[Any]:
    names: tuple[Any, ...] = (author_name().label("author_name"), col(Unit.name).label("author_unit_name"))
    stmt = (
        select(*COMMENT_COLUMNS, *names)
        .outerjoin(User, col(User.id) == col(Comment.author_id))
        .outerjoin(Unit, col(Unit.id) == col(User.unit_id))
        .where(Comment.assignment_id == assignment_id)
    )
    return scoped(stmt, user, Comment.unit_id)


def comment_public(session: Session, comment: Comment, *, author: User) -> dict[str, Any]:
    unit = session.get(Unit, author.unit_id) if author.unit_id is not None else None
    body = {c.key: getattr(comment, c.key) for c in COMMENT_COLUMNS}
    return {
        **body,
        "author_name": author.full_name or author.username,
        "author_unit_name": unit.name if unit else None,
    }
