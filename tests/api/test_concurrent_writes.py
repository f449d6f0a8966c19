"""Two writers holding the same version of a row: the first wins, the second gets 409.

Each test loads the row in two real Sessions on a committed database (so the second writer's
UPDATE really runs against the first one's commit), writes through the service from both, and
checks that the loser left nothing behind: no change, no audit entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from api.indicator import service as indicator_service
from api.plan import service as plan_service
from api.task import service as task_service
from api.unit import service as unit_service
from api.webhook import service as webhook_service
from duban.db import make_engine
from duban.errors import Conflict
from duban.models import (
    AuditEntry,
    Indicator,
    Plan,
    Role,
    Section,
    Task,
    Unit,
    UnitGroup,
    User,
    WebhookEndpoint,
)
from tests.factories import (
    make_group,
    make_indicator,
    make_plan,
    make_section,
    make_task,
    make_unit,
    make_user,
)

Write = Callable[[Session, User, Any], Any]
Change = Callable[[Session, User, Any, datetime], Any]


@pytest.fixture
def db(committed_url: str) -> Iterator[Engine]:
    engine = make_engine(committed_url)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(db: Engine) -> dict[str, int]:
    with Session(db) as s:
        actor = make_user(s, roles=[Role.office])
        plan = make_plan(s)
        section = make_section(s, plan=plan)
        unit = make_unit(s)
        ids = {
            "actor": actor.id or 0,
            "plan": plan.id or 0,
            "section": section.id or 0,
            "task": make_task(s, plan=plan, section=section).id or 0,
            "unit": unit.id or 0,
            "unit_group": make_group(s, members=[unit]).id or 0,
            "indicator": make_indicator(s, plan=plan).id or 0,
        }
        endpoint = WebhookEndpoint(url="https://hooks.example.com/duban", secret="whsec_x")
        s.add(endpoint)
        s.flush()
        ids["webhook"] = endpoint.id or 0
        s.commit()
    return ids


def race(db: Engine, model: type, row_id: int, actor_id: int, write: Write, now: datetime) -> Conflict:
    """Both sessions read version 1; the first write commits, the second must be refused."""
    with Session(db, expire_on_commit=False) as a, Session(db, expire_on_commit=False) as b:
        loaded = []
        for s in (a, b):
            loaded.append((s, s.get(User, actor_id), s.get(model, row_id)))
            # End the read (SQLite's BEGIN IMMEDIATE would otherwise hold the write lock);
            # the objects keep the version they were read with.
            s.commit()
        assert loaded[0][2].version == loaded[1][2].version == 1
        write(*loaded[0])
        with pytest.raises(Conflict) as caught:
            write(*loaded[1])
    return caught.value


def audited(db: Engine, action: str) -> int:
    with Session(db) as s:
        return s.exec(select(func.count()).where(col(AuditEntry.action) == action)).one()


CASES: dict[str, tuple[type, str, Change, Callable[[Any], Any]]] = {
    "plan": (
        Plan,
        "plan.update",
        lambda s, u, o, n: plan_service.update(s, actor=u, plan=o, changes={"title": f"改{id(s)}"}, now=n),
        lambda o: o.title,
    ),
    "section": (
        Section,
        "section.update",
        lambda s, u, o, n: plan_service.update_section(
            s, actor=u, section=o, changes={"title": f"改{id(s)}"}, now=n
        ),
        lambda o: o.title,
    ),
    "task": (
        Task,
        "task.update",
        lambda s, u, o, n: task_service.update_task(
            s, actor=u, task=o, changes={"title": f"改{id(s)}"}, now=n
        ),
        lambda o: o.title,
    ),
    "unit": (
        Unit,
        "unit.update",
        lambda s, u, o, n: unit_service.update(
            s, actor=u, unit=o, changes={"short_name": f"改{id(s)}"}, now=n
        ),
        lambda o: o.short_name,
    ),
    "unit_group": (
        UnitGroup,
        "unit_group.update",
        lambda s, u, o, n: unit_service.update_group(
            s, actor=u, group=o, changes={"description": f"改{id(s)}"}, now=n
        ),
        lambda o: o.description,
    ),
    "webhook": (
        WebhookEndpoint,
        "webhook.update",
        lambda s, u, o, n: webhook_service.update(
            s, actor=u, endpoint=o, changes={"description": f"改{id(s)}"}, now=n
        ),
        lambda o: o.description,
    ),
    "indicator": (
        Indicator,
        "indicator.update",
        lambda s, u, o, n: indicator_service.update(
            session=s, user=u, indicator=o, changes={"name": f"改{id(s)}"}, now=n
        ),
        lambda o: o.name,
    ),
}


@pytest.mark.parametrize("entity", list(CASES))
def test_second_writer_with_the_same_version_gets_409(
    entity: str, db: Engine, seeded: dict[str, int], now: datetime
) -> None:
    model, action, write, field = CASES[entity]
    results: list[Any] = []

    def write_and_keep(s: Session, user: User, obj: Any) -> None:
        write(s, user, obj, now)
        results.append(field(obj))

    conflict = race(db, model, seeded[entity], seeded["actor"], write_and_keep, now)
    assert conflict.status_code == 409
    assert conflict.code == f"{entity}.concurrent_update"
    assert conflict.message == "已被他人修改，请刷新后重试"
    with Session(db) as s:
        row = s.get(model, seeded[entity])
        assert row is not None and row.version == 2 and field(row) == results[0]
    assert audited(db, action) == 1
