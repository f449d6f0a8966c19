"""Assignments: scoping, the state machine and lists. Every unit-scoped read starts here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, false
from sqlmodel import select

from duban.models import Assignment, User


def unit_scope_clause(user: User, unit_column: Any) -> Any:
    """The SQL condition limiting `unit_column` to what `user` may see (true for county-wide roles)."""
    if user.reads_all:
        return None
    if user.unit_id is None:
        return false()
    return unit_column == user.unit_id


def visible_assignments(user: User, *columns: Any) -> Select[Any]:
    """SELECT over assignments the user may see; pass columns for lean list queries."""
    stmt = select(*columns) if columns else select(Assignment)
    clause = unit_scope_clause(user, Assignment.unit_id)
    return stmt if clause is None else stmt.where(clause)
