"""Read-only board tokens (stored hashed) and the data the status board shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from api.security import hash_token, new_token
from api.stats import service as stats
from duban.errors import NotFound, Unauthorized
from duban.models import BoardToken, Plan, User
from duban.settings import Settings
from duban.uow import unit_of_work

TOKEN_PREFIX = "dbb"


def create_token(
    session: Session, *, actor: User, name: str, plan_id: int | None, settings: Settings, now: datetime
) -> tuple[BoardToken, str]:
    """Returns the row and the plain token, which is shown once and never stored."""
    if plan_id is not None:
        stats.get_plan(session, plan_id)
    plain = new_token(TOKEN_PREFIX)
    row = BoardToken(
        name=name,
        plan_id=plan_id,
        token_hash=hash_token(plain, settings),
        created_by_id=actor.id,
        created_at=now,
    )
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.add(row, action="board_token.create")
    return row, plain


def list_tokens(session: Session) -> list[BoardToken]:
    return list(session.exec(select(BoardToken).order_by(col(BoardToken.id))).all())


def revoke_token(session: Session, *, actor: User, token_id: int, now: datetime) -> BoardToken:
    row = session.get(BoardToken, token_id)
    if row is None:
        raise NotFound("看板令牌不存在", code="board_token.not_found")
    if row.revoked_at is None:
        with unit_of_work(session, actor=actor, now=now) as uow:
            row.revoked_at = now
            uow.record(
                action="board_token.revoke",
                entity_type="board_token",
                entity_id=row.id,
                after={"revoked_at": now.isoformat()},
            )
    return row


def authenticate(session: Session, *, token: str, settings: Settings, now: datetime) -> BoardToken:
    row = session.exec(select(BoardToken).where(BoardToken.token_hash == hash_token(token, settings))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("看板令牌无效或已吊销", code="board_token.invalid")
    # Record use at most once a minute: a wall screen polls, and the row need not churn.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= 60:
        with unit_of_work(session, actor=None, now=now):
            row.last_used_at = now
    return row


def board_data(
    session: Session, *, plan_id: int | None, user: User | None, token: BoardToken | None, now: datetime
) -> dict[str, Any]:
    """Everything the board page draws, in one response."""
    if token is not None and token.plan_id is not None:
        plan_id = token.plan_id
    plans: list[dict[str, Any]] = [
        {"id": p.id, "title": p.title} for p in session.exec(select(Plan).order_by(col(Plan.id))).all()
    ]
    if token is not None and token.plan_id is not None:
        plans = [p for p in plans if p["id"] == token.plan_id]
    if plan_id is None:
        if not plans:
            raise NotFound("暂无计划", code="plan.not_found")
        plan_id = plans[-1]["id"]
    plan = stats.get_plan(session, plan_id)
    viewer = None if token is not None else user
    summary = stats.plan_summary(session, plan=plan, user=viewer, now=now)
    return {
        "plans": plans,
        "summary": summary,
        "sections": stats.group_stats(session, plan=plan, user=viewer, now=now, by="section"),
        "units": stats.group_stats(session, plan=plan, user=viewer, now=now, by="unit"),
        "overdue": stats.overdue_items(session, plan=plan, user=viewer, now=now, limit=100),
        "indicators": stats.indicator_stats(session, plan=plan, user=viewer, now=now),
        "refresh_seconds": 60,
    }
