"""Keyset (cursor) pagination over lean column selects."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import Label, Select, and_, literal, or_, tuple_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from duban.errors import Unprocessable

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = orjson.dumps([v.isoformat() if isinstance(v, date | datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise Unprocessable("分页游标无效", code="pagination.invalid_cursor") from exc
    if not isinstance(values, list) or len(values) != n:
        raise Unprocessable("分页游标无效", code="pagination.invalid_cursor")
    return values


def _coerce(value: Any, column: ColumnElement[Any]) -> Any:
    if value is None:
        return None
    try:
        py = column.type.python_type
        if py is object and hasattr(column.type, "impl"):  # a TypeDecorator (UTCDateTime): its impl's
            py = column.type.impl.python_type
    except NotImplementedError:
        return value
    try:
        if py is datetime and isinstance(value, str):
            return datetime.fromisoformat(value)
        if py is date and isinstance(value, str):
            return date.fromisoformat(value)
        if py is int and not isinstance(value, int):
            return int(value)
    except (TypeError, ValueError) as exc:
        raise Unprocessable("分页游标无效", code="pagination.invalid_cursor") from exc
    return value


def _unlabel(column: ColumnElement[Any]) -> ColumnElement[Any]:
    # WHERE must repeat the expression, not the SELECT-list alias.
    return column.element if isinstance(column, Label) else column


def page_statement(
    stmt: Select[Any],
    *,
    order: Sequence[tuple[Any, str]],
    limit: int,
    cursor: str | None,
) -> Select[Any]:
    """`stmt` ordered by `order`, from after `cursor`, one row more than a page (to see if more follow)."""
    limit = max(1, min(limit, MAX_LIMIT))
    keys = [c for c, _ in order]
    if cursor:
        values = [_coerce(v, c) for v, c in zip(decode_cursor(cursor, len(order)), keys, strict=True)]
        directions = {d for _, d in order}
        if len(directions) == 1 and len(order) > 1:
            # A row-value comparison is an index range condition on both backends, so a deep
            # page costs the same as the first; the expanded OR form would scan from the start.
            row = tuple_(*[_unlabel(k) for k in keys])
            bound = tuple_(*[literal(v, _unlabel(k).type) for v, k in zip(values, keys, strict=True)])
            stmt = stmt.where(row > bound if "asc" in directions else row < bound)
        else:
            clauses = []
            for i, (col, direction) in enumerate(order):
                eqs = [_unlabel(keys[j]) == values[j] for j in range(i)]
                cmp = _unlabel(col) > values[i] if direction == "asc" else _unlabel(col) < values[i]
                clauses.append(and_(*eqs, cmp))
            stmt = stmt.where(or_(*clauses))
    return stmt.order_by(*[c.asc() if d == "asc" else c.desc() for c, d in order]).limit(limit + 1)


def page_of(rows: Sequence[Any], *, order: Sequence[tuple[Any, str]], limit: int) -> dict[str, Any]:
    """{"items": [row dicts], "next_cursor": ...} from the rows of `page_statement`."""
    limit = max(1, min(limit, MAX_LIMIT))
    items = [dict(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last[c.key] for c, _ in order])
    return {"items": items, "next_cursor": next_cursor}


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    # Model attributes (`col(Model.id)`) or labelled expressions, with "asc"/"desc". SQLAlchemy has
    # no public type covering both that carries `.key` and `.type`, hence Any.
    order: Sequence[tuple[Any, str]],
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Run `stmt` ordered by `order` (non-null columns, the last one unique, e.g. the id).

    Returns {"items": [row mappings], "next_cursor": ...}; rows go to the client as they come
    from the driver, with no ORM objects and no per-row Python validation.
    """
    rows = session.execute(page_statement(stmt, order=order, limit=limit, cursor=cursor)).mappings().all()
    return page_of(rows, order=order, limit=limit)
