from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class InstructionCreate(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    assignment_id: int | None = Field(default=None, description="只批示某一单位的交办时填写")
    reply_due_date: date | None = None


class ReplyCreate(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class ReplyPublic(BaseModel):
    id: int
    instruction_id: int
    unit_id: int
    author_id: int | None
    author_name: str | None = Field(description="发表人")
    author_unit_name: str | None = Field(description="发表人所在单位")
    text: str
    created_at: datetime


class InstructionListItem(BaseModel):
    id: int
    task_id: int
    task_code: str
    task_title: str
    plan_id: int
    author_name: str | None
    assignment_id: int | None
    author_id: int | None
    text: str
    reply_due_date: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    unit_ids: list[int] = Field(description="须回复的单位")
    replied_unit_ids: list[int]
    pending_unit_ids: list[int] = Field(description="尚未回复的单位")


class InstructionPublic(InstructionListItem):
    replies: list[ReplyPublic]


class CommentCreate(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class CommentPublic(BaseModel):
    id: int
    assignment_id: int
    unit_id: int
    author_id: int | None
    text: str
    created_at: datetime
