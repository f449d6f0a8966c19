"""External ids: an integration's own id for an object it created, unique per service account.

A service account's ids live in its own namespace (`external_source_id` = the account); ids set by
people share one namespace of their own (`external_source_id` NULL). Creating with an id that is
already taken in the caller's namespace updates that object instead (200, not 201); a concurrent
create with the same id loses the insert on the unique key and becomes that update. See
docs/integration.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import and_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from duban.errors import Conflict
from duban.models import User

T = TypeVar("T")

EXTERNAL_ID_DOC = "集成方自己的编号：同一服务账号下唯一；重复创建时更新原对象（200）"
SOURCE_DOC = "外部编号所属的服务账号（账号 id）；缺省时服务账号查自己的，人员查所有来源的"


def source_of(actor: User | None) -> int | None:
    """The namespace the caller's external ids live in: its own account, or NULL for people."""
    return actor.id if actor is not None and actor.is_service_account else None


def match(model: Any, *, source_id: int | None, external_id: str) -> Any:
    source = col(model.external_source_id)
    return and_(
        col(model.external_id) == external_id,
        source.is_(None) if source_id is None else source == source_id,
    )


def find(session: Session, model: type[T], *, source_id: int | None, external_id: str) -> T | None:
    found: T | None = session.exec(
        select(model).where(match(model, source_id=source_id, external_id=external_id))
    ).first()
    return found


def filter_list(stmt: Any, model: Any, *, user: User, external_id: str | None, source_id: int | None) -> Any:
    """`?external_id=` on a list: the caller's own namespace for a service account, else any source."""
    if external_id is None and source_id is None:
        return stmt
    if source_id is None and user.is_service_account:
        source_id = user.id
    if external_id is not None:
        stmt = stmt.where(col(model.external_id) == external_id)
    if source_id is not None:
        stmt = stmt.where(col(model.external_source_id) == source_id)
    return stmt


def upsert(
    session: Session,
    model: type[T],
    *,
    source_id: int | None,
    external_id: str,
    create: Callable[[], T],
    update: Callable[[T], T],
) -> tuple[T, bool]:
    """(object, created): update the object the id names, or create it.

    Two requests creating one id at once both miss it; the database lets one insert win (the
    unique key on (source, external id)) and the other, rolled back by its unit of work, finds the
    winner and updates it instead — one object, never a 409 or a 500.
    """
    existing = find(session, model, source_id=source_id, external_id=external_id)
    if existing is not None:
        return update(existing), False
    try:
        return create(), True
    except (IntegrityError, Conflict):
        existing = find(session, model, source_id=source_id, external_id=external_id)
        if existing is None:
            raise  # another key (a name, a code) was taken: the caller's conflict
        return update(existing), False


def changed(obj: Any, changes: dict[str, Any]) -> bool:
    return any(getattr(obj, key) != value for key, value in changes.items())
