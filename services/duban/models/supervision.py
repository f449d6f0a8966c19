from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from duban.models._base import RowLocked, json_field, utcnow


class Bulletin(RowLocked, table=True):
    """定期通报: one generated version of a plan's bulletin for a period."""

    __tablename__ = "bulletin"
    __table_args__ = (sa.UniqueConstraint("plan_id", "period_kind", "period_start", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    period_kind: str = Field(max_length=10)
    period_start: date
    period_end: date
    version: int = Field(default=1)
    title: str = Field(max_length=300)
    content: dict[str, Any] = json_field(default_factory=dict)
    markdown: str = Field(default="")
    generated_at: datetime = Field(default_factory=utcnow)
    generated_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    published_at: datetime | None = None


class ScoringRule(RowLocked, table=True):
    """考核 rules for a plan; a change adds a version, so published results keep theirs."""

    __tablename__ = "scoring_rule"
    __table_args__ = (sa.UniqueConstraint("plan_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    version: int = Field(default=1)
    config: dict[str, Any] = json_field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")


class Assessment(RowLocked, table=True):
    __tablename__ = "assessment"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    rule_id: int = Field(foreign_key="scoring_rule.id", ondelete="RESTRICT")
    period_kind: str = Field(max_length=10)
    period_start: date
    period_end: date
    computed_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    computed_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")


class AssessmentScore(SQLModel, table=True):
    __tablename__ = "assessment_score"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    unit_id: int = Field(foreign_key="unit.id", index=True, ondelete="CASCADE")
    score: float
    rank: int
    # Every deduction and credit, line by line, so each point can be explained.
    breakdown: list[dict[str, Any]] = json_field(default_factory=list)


class BoardToken(SQLModel, table=True):
    """A revocable read-only token for a wall-screen status board."""

    __tablename__ = "board_token"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    plan_id: int | None = Field(default=None, foreign_key="plan.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=128, unique=True)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
