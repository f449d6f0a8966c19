from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import col

from api.deps import LeaderUser, NowDep, Reader, SessionDep, require_roles
from api.errors import ErrorEnvelope
from api.http import json_response
from api.instruction import schemas, service
from api.pagination import Page, paginate
from api.report.shared import load_assignment
from duban.models import Comment, Instruction, Role, User

router = APIRouter(tags=["instructions"])

UnitMember = Annotated[User, Depends(require_roles(Role.unit_head, Role.unit_staff))]
# Viewers read only; everyone else who can see an assignment may discuss it.
Commenter = Annotated[
    User, Depends(require_roles(Role.office, Role.leader, Role.admin, Role.unit_head, Role.unit_staff))
]

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    404: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


@router.post(
    "/tasks/{task_id}/instructions", status_code=201, response_model=schemas.InstructionPublic, responses=_W
)
def issue_instruction(
    task_id: int, body: schemas.InstructionCreate, user: LeaderUser, session: SessionDep, now: NowDep
) -> Any:
    """Write a 批示 on a task (every assigned unit answers) or on one of its assignments."""
    task = service.get_task(session, task_id=task_id)
    instruction = service.issue(session=session, user=user, task=task, data=body.model_dump(), now=now)
    return json_response(service.public(session, user=user, instruction=instruction), 201)


@router.get("/instructions", response_model=Page[schemas.InstructionListItem])
def list_instructions(
    user: Reader,
    session: SessionDep,
    task_id: int | None = None,
    plan_id: int | None = None,
    assignment_id: int | None = None,
    unit_id: Annotated[int | None, Query(description="须由该单位回复的批示")] = None,
    pending: Annotated[
        bool | None,
        Query(description="true：尚有单位未回复（与 unit_id 同用时指该单位未回复）；false：均已回复"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Instructions the caller may see, newest first, with task names and which units have replied."""
    stmt = service.list_stmt(
        user,
        filters={
            "task_id": task_id,
            "plan_id": plan_id,
            "assignment_id": assignment_id,
            "unit_id": unit_id,
            "pending": pending,
        },
    )
    page = paginate(session, stmt, order=[(col(Instruction.id), "desc")], limit=limit, cursor=cursor)
    service.with_status(session, user=user, instructions=page["items"])
    return json_response(page)


@router.get("/instructions/{instruction_id}", response_model=schemas.InstructionPublic, responses=_E)
def get_instruction(instruction_id: int, user: Reader, session: SessionDep) -> Any:
    """One instruction with its replies."""
    instruction = service.get_visible(session, user=user, instruction_id=instruction_id)
    return json_response(service.public(session, user=user, instruction=instruction))


@router.post(
    "/instructions/{instruction_id}/replies",
    status_code=201,
    response_model=schemas.ReplyPublic,
    responses=_W,
)
def reply_instruction(
    instruction_id: int, body: schemas.ReplyCreate, user: UnitMember, session: SessionDep, now: NowDep
) -> Any:
    """Answer an instruction for your unit."""
    instruction = service.get_visible(session, user=user, instruction_id=instruction_id)
    answer = service.reply(session=session, user=user, instruction=instruction, text=body.text, now=now)
    return json_response({c.key: getattr(answer, c.key) for c in service.REPLY_COLUMNS}, 201)


@router.post(
    "/assignments/{assignment_id}/comments",
    status_code=201,
    response_model=schemas.CommentPublic,
    responses=_W,
)
def add_comment(
    assignment_id: int, body: schemas.CommentCreate, user: Commenter, session: SessionDep, now: NowDep
) -> Any:
    """Comment on an assignment you can see."""
    assignment = load_assignment(session, user=user, assignment_id=assignment_id)
    comment = service.add_comment(session=session, user=user, assignment=assignment, text=body.text, now=now)
    return json_response(service.comment_public(session, comment, author=user), 201)


@router.get("/assignments/{assignment_id}/comments", response_model=Page[schemas.CommentPublic], responses=_E)
def list_comments(
    assignment_id: int,
    user: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """The assignment's comments, oldest first."""
    load_assignment(session, user=user, assignment_id=assignment_id)
    stmt = service.comments_stmt(user, assignment_id=assignment_id)
    return json_response(
        paginate(session, stmt, order=[(col(Comment.id), "asc")], limit=limit, cursor=cursor)
    )
