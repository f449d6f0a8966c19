"""Two writers holding the same version of a row: the first wins, the second gets 409.

Each test loads the row in two real Sessions on a committed database (so the second writer's
UPDATE really runs against the first one's commit), writes through the service from both, and
checks that the loser left nothing behind: no change, no audit entry.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from api.assessment import service as assessment_service
from api.bulletin import service as bulletin_service
from api.indicator import service as indicator_service
from api.notification import service as notification_service
from api.plan import service as plan_service
from api.task import service as task_service
from api.unit import service as unit_service
from api.webhook import service as webhook_service
from duban.db import make_engine
from duban.errors import Conflict
from duban.models import (
    Assessment,
    AuditEntry,
    Bulletin,
    Indicator,
    NotificationPolicy,
    OutboxEvent,
    Plan,
    Role,
    ScoringRule,
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

_hour = itertools.count(1)
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
        policy = NotificationPolicy(plan_id=plan.id, config={})
        rule = ScoringRule(plan_id=plan.id or 0, config={})
        bulletin = Bulletin(
            plan_id=plan.id or 0,
            period_kind="month",
            period_start=date(2025, 11, 1),
            period_end=date(2025, 11, 30),
            title="十一月通报",
        )
        s.add_all([policy, rule, bulletin])
        s.flush()
        assessment = Assessment(
            plan_id=plan.id or 0,
            rule_id=rule.id or 0,
            period_kind="month",
            period_start=date(2025, 11, 1),
            period_end=date(2025, 11, 30),
        )
        s.add(assessment)
        s.flush()
        ids.update(
            notification_policy=policy.id or 0, bulletin=bulletin.id or 0, assessment=assessment.id or 0
        )
        s.commit()
    return ids


def _lock_column(model: type) -> str:
    return str(sa.inspect(model).version_id_col.key)


def race(db: Engine, model: type, row_id: int, actor_id: int, write: Write, now: datetime) -> Conflict:
    """Both sessions read version 1; the first write commits, the second must be refused."""
    with Session(db, expire_on_commit=False) as a, Session(db, expire_on_commit=False) as b:
        loaded = []
        for s in (a, b):
            loaded.append((s, s.get(User, actor_id), s.get(model, row_id)))
            # End the read (SQLite's BEGIN IMMEDIATE would otherwise hold the write lock);
            # the objects keep the version they were read with.
            s.commit()
        lock = _lock_column(model)
        assert getattr(loaded[0][2], lock) == getattr(loaded[1][2], lock) == 1
        write(*loaded[0])
        a.commit()  # a service may read after its commit (a response view); a request would end here
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
    "notification_policy": (
        NotificationPolicy,
        "notification_policy.put",
        lambda s, u, o, n: notification_service.put_policy(
            s, actor=u, plan_id=o.plan_id, config={"digest_hour": next(_hour)}, now=n
        ),
        lambda o: o.config,
    ),
    "bulletin": (
        Bulletin,
        "bulletin.publish",
        lambda s, u, o, n: bulletin_service.publish(s, bulletin=o, actor=u, now=n),
        lambda o: o.published_at is not None,
    ),
    "assessment": (
        Assessment,
        "assessment.publish",
        lambda s, u, o, n: assessment_service.publish(s, assessment=o, actor=u, now=n),
        lambda o: o.published_at is not None,
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
        assert row is not None and getattr(row, _lock_column(model)) == 2 and field(row) == results[0]
    assert audited(db, action) == 1
    if entity == "bulletin":
        # The loser's event went with its transaction: one bulletin.published for one publish.
        with Session(db) as s:
            events = s.exec(select(func.count()).where(col(OutboxEvent.type) == "bulletin.published")).one()
        assert events == 1
