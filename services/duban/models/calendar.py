from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from duban.models._base import str_enum, utcnow


class OverrideKind(StrEnum):
    rest = "rest"  # a statutory holiday or rest day (放假)
    work = "work"  # an adjusted working day (调休上班), usually a weekend


class CalendarOverride(SQLModel, table=True):
    """The office's own holiday table, one row per day it declares, merged over the package.

    A year is replaced as a whole (the State Council publishes one notice per year), so
    `year` groups the rows and `source` names the notice they came from.
    """

    __tablename__ = "calendar_override"
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    day: date = Field(unique=True)
    kind: OverrideKind = str_enum(OverrideKind)
    name: str = Field(default="", max_length=100)
    source: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")


class CalendarDay(SQLModel, table=True):
    """Every date of the calendar's exact span with its working ordinal, for SQL.

    `working_ordinal` counts working days from the epoch through `day` (duban.calendar), so
    "N working days overdue" is a difference of two ordinals, computable in a query.
    """

    __tablename__ = "calendar_day"
    day: date = Field(primary_key=True)
    is_working_day: bool
    working_ordinal: int = Field(index=True)


class CalendarState(SQLModel, table=True):
    """One row: the stamp of the calendar `calendar_day` holds; processes compare theirs to it."""

    __tablename__ = "calendar_state"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)
    id: int = Field(default=1, primary_key=True)
    stamp: str = Field(max_length=64)
    package_version: str = Field(max_length=40)
    updated_at: datetime = Field(default_factory=utcnow)
