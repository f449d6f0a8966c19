"""Draft → publish (交办): an import sends nothing; publishing tells each unit once; deadlines
already past count overdue from the publication, never for the time before it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from duban.clock import FixedClock
from duban.models import (
    Assignment,
    Notification,
    OutboxEvent,
    Plan,
    PlanState,
    Role,
    Task,
    TaskUnit,
    Unit,
    UnitAlias,
    UnitKind,
    User,
)
from duban.settings import get_settings
from notifier.fanout import fan_out
from notifier.scan import scan_deadlines
from tests.api.conftest import AsRole, auth_headers
from tests.api.test_plan_import import SEED
from tests.factories import make_unit, make_user

# "Today" for these tests: a working Tuesday long after the seed plan's deadlines (2025).
TODAY = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
TOWNS = ("朱码街道", "陈师街道", "高沟镇", "红窑镇")


def _import(client: TestClient, headers: dict[str, str], text: str | None = None, **params: Any) -> Any:
    body = (text if text is not None else SEED.read_text("utf-8")).encode()
    return client.post(
        "/api/v1/plans/import",
        content=body,
        params=params,
        headers={**headers, "Content-Type": "text/plain; charset=utf-8"},
    )


def _towns(session: Session) -> None:
    for name in TOWNS:
        make_unit(session, name=name, kind=UnitKind.street if name.endswith("街道") else UnitKind.town)
    session.commit()


def _unit_people(session: Session) -> dict[int, User]:
    """One unit head per unit, so that every message has someone to reach."""
    people = {}
    for unit in session.exec(select(Unit)).all():
        if unit.kind in (UnitKind.office, UnitKind.leadership):
            continue
        people[unit.id or 0] = make_user(session, roles=[str(Role.unit_head)], unit_id=unit.id)
    make_user(session, roles=[str(Role.office)])
    make_user(session, roles=[str(Role.leader)])
    session.commit()
    return people


def _event_types(session: Session) -> Counter[str]:
    return Counter(session.exec(select(OutboxEvent.type)).all())


def _run_notifier(session: Session, now: datetime) -> None:
    settings = get_settings()
    scan_deadlines(session, now=now, settings=settings)
    session.commit()
    while fan_out(session, now=now, settings=settings).events:
        pass


def test_import_creates_a_draft_and_sends_nothing(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    _towns(session)
    office = as_role("office")
    r = _import(client, office)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["state"] == "draft" and body["assignments"] == 0 and body["tasks"] == 15
    assert "deadline.past" in {w["code"] for w in body["warnings"]}
    plan = session.get(Plan, body["plan_id"])
    assert plan is not None and plan.state == PlanState.draft and plan.published_at is None
    assert session.exec(select(sa.func.count()).select_from(Assignment)).one() == 0
    assert _event_types(session) == Counter()
    _run_notifier(session, TODAY + timedelta(days=30))
    assert session.exec(select(sa.func.count()).select_from(Notification)).one() == 0

    # A draft is the office's working copy: units neither see it nor get anything assigned from it.
    unit = session.exec(select(Unit).where(Unit.name == "县科技局")).one()
    head = as_role("unit_head", unit=unit)
    assert client.get(f"/api/v1/plans/{plan.id}", headers=head).status_code == 404
    assert plan.id not in [p["id"] for p in client.get("/api/v1/plans", headers=head).json()["items"]]
    assert [p["id"] for p in client.get("/api/v1/plans?state=draft", headers=office).json()["items"]] == [
        plan.id
    ]
    task = session.exec(select(Task).where(Task.plan_id == plan.id)).first()
    assert task is not None
    r = client.post(f"/api/v1/tasks/{task.id}/assignments", json={}, headers=office)
    assert r.status_code == 409 and r.json()["error"]["code"] == "plan.draft", r.text


def test_publish_after_shifting_two_years_tells_each_unit_once_and_escalates_nothing(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    _towns(session)
    office = as_role("office")
    plan_id = _import(client, office).json()["plan_id"]
    people = _unit_people(session)

    r = client.post(f"/api/v1/plans/{plan_id}/shift-deadlines", json={"years": 2}, headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["tasks"] == 15
    dues = set(session.exec(select(Task.due_date).where(Task.plan_id == plan_id)).all())
    assert dues == {date(2027, 12, 31)}
    plan = session.get(Plan, plan_id)
    assert plan is not None and plan.period_end == date(2027, 12, 31)
    checks = client.get(f"/api/v1/plans/{plan_id}/checks", headers=office).json()
    assert checks["past_deadlines"] == 0 and checks["can_publish"] is True
    assert "deadline.past" not in {w["code"] for w in checks["warnings"]}

    r = client.post(f"/api/v1/plans/{plan_id}/publish", headers=office)
    assert r.status_code == 200, r.text
    out = r.json()
    assigned_units = set(session.exec(select(Assignment.unit_id).where(Assignment.plan_id == plan_id)).all())
    assert out["state"] == "published" and out["assignments"] > 15
    assert out["units_notified"] == len(assigned_units)
    types = _event_types(session)
    assert types["plan.published"] == len(assigned_units)
    assert types["assignment.assigned"] == out["assignments"]  # integrations still get every item

    _run_notifier(session, TODAY)
    _run_notifier(session, TODAY + timedelta(days=14))  # the scanner finds nothing due
    types = _event_types(session)
    assert types["assignment.escalated"] == 0 and types["assignment.overdue"] == 0
    # Besides the daily digest (a summary of open work), one message each.
    inbox = Counter(
        session.exec(select(Notification.user_id).where(Notification.type != "digest.daily")).all()
    )
    for unit_id in assigned_units:
        head = people[unit_id]
        assert inbox[head.id] == 1, f"unit {unit_id} got {inbox[head.id]} messages"
    first = people[next(iter(assigned_units))].id
    item = session.exec(
        select(Notification).where(Notification.user_id == first, Notification.type != "digest.daily")
    ).one()
    assert item.title.startswith("【计划交办】")

    # Published is final: a second publish and draft edits are refused.
    again = client.post(f"/api/v1/plans/{plan_id}/publish", headers=office)
    assert again.status_code == 409 and again.json()["error"]["code"] == "plan.not_draft"
    shift = client.post(f"/api/v1/plans/{plan_id}/shift-deadlines", json={"years": 1}, headers=office)
    assert shift.status_code == 409


def test_publishing_late_counts_overdue_from_the_publication(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    _towns(session)
    office = as_role("office")
    plan_id = _import(client, office).json()["plan_id"]
    _unit_people(session)
    r = client.post(f"/api/v1/plans/{plan_id}/publish", headers=office)
    assert r.status_code == 200, r.text
    assert "deadline.past" in {w["code"] for w in r.json()["warnings"]}
    rows = session.exec(select(Assignment).where(Assignment.plan_id == plan_id)).all()
    assert rows and all(a.overdue_from == date(2026, 12, 1) for a in rows if a.due_date < date(2026, 12, 1))

    # The day of publication and the next: nothing for the year and more before it.
    _run_notifier(session, TODAY)
    _run_notifier(session, TODAY + timedelta(days=1))
    types = _event_types(session)
    assert types["assignment.escalated"] == 0
    assert types["assignment.overdue"] == 0  # the publication message already said they are late
    listed = client.get(f"/api/v1/assignments?plan_id={plan_id}&limit=5", headers=office).json()["items"]
    assert listed and all(a["overdue"] and a["working_days_overdue"] == 0 for a in listed)

    # Three working days after publication (Fri 4 Dec → Mon 7 Dec): the first level, counted from then.
    later = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    clock.set(later)
    office = as_role("office")  # a fresh sign-in: the first one's access token has expired
    _run_notifier(session, later)
    levels = Counter(
        json.loads(p)["data"]["level"] if isinstance(p, str) else p["data"]["level"]
        for p in session.exec(
            select(OutboxEvent.payload).where(OutboxEvent.type == "assignment.escalated")
        ).all()
    )
    assert levels and max(levels) == 1
    escalated = session.exec(
        select(OutboxEvent.payload).where(OutboxEvent.type == "assignment.escalated")
    ).first()
    assert escalated is not None
    data = escalated["data"]
    assert data["overdue_from"] == "2026-12-01" and data["working_days_overdue"] == 3
    listed = client.get(f"/api/v1/assignments?plan_id={plan_id}&limit=5", headers=office).json()["items"]
    assert all(a["working_days_overdue"] == 3 for a in listed)
    deep = client.get(f"/api/v1/assignments?plan_id={plan_id}&min_working_days_overdue=4", headers=office)
    assert deep.json()["items"] == []
    # The supervision figures count from the same day, live and as of a past instant.
    plan_stats = client.get(f"/api/v1/stats/plans/{plan_id}", headers=office).json()
    assert plan_stats["overdue_working_days_max"] == 3, plan_stats
    overdue = client.get(f"/api/v1/stats/plans/{plan_id}/overdue", headers=office).json()
    assert overdue["items"] and {i["working_days_overdue"] for i in overdue["items"]} == {3}
    units = client.get(f"/api/v1/stats/plans/{plan_id}/units", headers=office).json()["items"]
    assert max(u["overdue_working_days_max"] for u in units) == 3


def test_second_import_of_a_doc_no_is_refused_unless_a_new_version(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    office = as_role("office")
    first = _import(client, office).json()
    dry = _import(client, office, dry_run="true")
    again = _import(client, office)
    for r in (dry, again):
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "plan.duplicate_doc_no" and err["details"]["plan_id"] == first["plan_id"]
        assert f"#{first['plan_id']}" in err["message"]
    assert session.exec(select(sa.func.count()).select_from(Plan)).one() == 1
    version = _import(client, office, new_version_of=first["plan_id"])
    assert version.status_code == 201, version.text
    assert version.json()["supersedes_id"] == first["plan_id"]
    missing = _import(client, office, new_version_of=99999)
    assert missing.status_code == 404


PLAN_WITH_NEAR_NAMES = """关于印发《某县2026年科技工作要点》的通知
某政办发〔2026〕9号
一、重点任务
（一）推进创新
1．建设科创平台。（牵头单位：县住建局；配合单位：县科技局）
2．完善人才政策。（牵头单位：县人社局）
"""


def test_unknown_names_come_with_suggestions_and_the_office_confirms_them(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    housing = make_unit(session, name="县住房和城乡建设局")
    make_unit(session, name="县科技局")
    session.commit()
    office = as_role("office")
    dry = _import(client, office, PLAN_WITH_NEAR_NAMES, dry_run="true").json()
    r = _import(client, office, PLAN_WITH_NEAR_NAMES)
    assert r.status_code == 201, r.text
    body = r.json()
    # The dry run and the import say the same things.
    assert [(w["code"], w["message"]) for w in dry["warnings"]] == [
        (w["code"], w["message"]) for w in body["warnings"]
    ]
    unresolved = [w for w in body["warnings"] if w["code"] == "unit.unresolved"]
    assert [w["text"] for w in unresolved] == ["县住建局"]
    assert unresolved[0]["suggestions"][0]["unit_id"] == housing.id
    # A plainly new unit is created; the near-duplicate is not.
    assert body["units_created"] == ["县人社局"]
    plan_id = body["plan_id"]
    checks = client.get(f"/api/v1/plans/{plan_id}/checks", headers=office).json()
    assert [u["name"] for u in checks["unresolved_units"]] == ["县住建局"] and not checks["can_publish"]
    refused = client.post(f"/api/v1/plans/{plan_id}/publish", headers=office)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "plan.unresolved_units"

    choice = {"name": "县住建局", "unit_id": housing.id, "create": True}
    both = client.post(f"/api/v1/plans/{plan_id}/unit-names", json=choice, headers=office)
    assert both.status_code == 422
    ok = client.post(
        f"/api/v1/plans/{plan_id}/unit-names",
        json={"name": "县住建局", "unit_id": housing.id},
        headers=office,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["task_units"] == 1
    assert session.exec(select(UnitAlias).where(UnitAlias.alias == "县住建局")).one().unit_id == housing.id
    lead = session.exec(
        select(TaskUnit)
        .join(Task, col(Task.id) == col(TaskUnit.task_id))
        .where(Task.plan_id == plan_id, TaskUnit.role == "lead", Task.code == "1")
    ).one()
    assert lead.unit_id == housing.id and lead.label is None
    published = client.post(f"/api/v1/plans/{plan_id}/publish", headers=office)
    assert published.status_code == 200, published.text
    assert housing.id in set(
        session.exec(select(Assignment.unit_id).where(Assignment.plan_id == plan_id)).all()
    )


def test_the_office_maintains_aliases(client: TestClient, as_role: AsRole, session: Session) -> None:
    unit = make_unit(session, name="县经济开发区管委会")
    session.commit()
    office = as_role("office")
    r = client.post("/api/v1/unit-aliases", json={"alias": "经济开发区", "unit_id": unit.id}, headers=office)
    assert r.status_code == 201, r.text
    staff = as_role("unit_staff")
    r = client.post("/api/v1/unit-aliases", json={"alias": "开发区", "unit_id": unit.id}, headers=staff)
    assert r.status_code == 403


def test_dry_run_json_imports_back_unchanged_and_refuses_like_the_import(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    office = as_role("office")
    dry = _import(client, office, dry_run="true")
    assert dry.status_code == 200
    r = client.post("/api/v1/plans/import", json=dry.json(), headers=office)
    assert r.status_code == 201, r.text
    plan_id = r.json()["plan_id"]
    exported = client.get(f"/api/v1/plans/{plan_id}/export.xlsx", headers=office)
    assert exported.status_code == 200
    tasks = session.exec(select(Task.code).where(Task.plan_id == plan_id)).all()
    assert len(tasks) == len(
        dry.json()["summary"] and [t for s in dry.json()["document"]["sections"] for t in s["tasks"]]
    )

    # No tasks: the dry run refuses exactly as the import does.
    text = "关于某事的通知\n各有关单位：\n请认真做好有关工作。\n"
    dry_empty = _import(client, office, text, dry_run="true")
    real_empty = _import(client, office, text)
    assert dry_empty.status_code == real_empty.status_code == 422
    assert dry_empty.json()["error"]["code"] == real_empty.json()["error"]["code"] == "import.no_tasks"


def test_shift_rules_keep_month_ends_and_refuse_nothing_to_do(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    from api.plan.publishing import _shift

    assert _shift(date(2024, 2, 29), years=1, months=0, days=0) == date(2025, 2, 28)
    assert _shift(date(2025, 6, 30), years=0, months=1, days=0) == date(2025, 7, 31)
    assert _shift(date(2025, 3, 15), years=0, months=-3, days=2) == date(2024, 12, 17)
    clock.set(TODAY)
    office = as_role("office")
    plan_id = _import(client, office).json()["plan_id"]
    r = client.post(f"/api/v1/plans/{plan_id}/shift-deadlines", json={}, headers=office)
    assert r.status_code == 422 and r.json()["error"]["code"] == "plan.shift_empty"
    r = client.post(f"/api/v1/plans/{plan_id}/shift-deadlines", json={"years": 99}, headers=office)
    assert r.status_code == 422
    staff = as_role("unit_staff")
    assert client.post(f"/api/v1/plans/{plan_id}/publish", headers=staff).status_code == 403


def test_scripted_one_step_import_publishes(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(datetime(2025, 3, 3, 1, 0, tzinfo=UTC))
    _towns(session)
    office = as_role("office")
    r = _import(client, office, publish="true")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["state"] == "published" and body["assignments"] > 15 and body["units_notified"] > 0
    plan = session.get(Plan, body["plan_id"])
    assert plan is not None and plan.published_at is not None
    headers = auth_headers(make_user(session, roles=["office"]), clock)
    assert client.get(f"/api/v1/plans/{plan.id}/checks", headers=headers).json()["can_publish"] is False


def test_publishing_a_new_version_withdraws_the_open_items_of_the_old_one(
    client: TestClient, as_role: AsRole, session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    _towns(session)
    office = as_role("office")
    v1 = _import(client, office).json()["plan_id"]
    _unit_people(session)
    assert client.post(f"/api/v1/plans/{v1}/publish", headers=office).status_code == 200
    old = session.exec(select(Assignment).where(Assignment.plan_id == v1).order_by(col(Assignment.id))).all()
    done = old[0]
    done.state = "completed"  # finished under the old version: stays finished
    session.add(done)
    session.commit()
    _run_notifier(session, TODAY)
    before = session.exec(select(sa.func.max(OutboxEvent.id))).one() or 0
    notes_before = session.exec(select(sa.func.count()).select_from(Notification)).one()

    v2 = _import(client, office, new_version_of=v1).json()["plan_id"]
    r = client.post(f"/api/v1/plans/{v2}/publish", headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["withdrawn"] == len(old) - 1

    session.expire_all()
    assert session.get(Plan, v1).state == PlanState.superseded  # type: ignore[union-attr]
    states = Counter(a.state for a in session.exec(select(Assignment).where(Assignment.plan_id == v1)).all())
    assert states == {"cancelled": len(old) - 1, "completed": 1}
    events = session.exec(select(OutboxEvent).where(col(OutboxEvent.id) > before)).all()
    cancelled = [e.payload["data"] for e in events if e.type == "assignment.cancelled"]
    published = [e.payload["data"] for e in events if e.type == "plan.published"]
    assert len(cancelled) == len(old) - 1
    # Every unit of the old version is in the new one: each hears of both in one message.
    assert all(c["publication"] and c["superseded_by"]["id"] == v2 for c in cancelled)
    assert all("新版本" in c["reason"] for c in cancelled)
    assert published and all(p["supersedes"]["id"] == v1 for p in published)
    assert sum(p["withdrawn"] for p in published) == len(old) - 1

    _run_notifier(session, TODAY)
    new_notes = session.exec(
        select(Notification)
        .where(col(Notification.id) > 0)
        .order_by(col(Notification.id))
        .offset(notes_before)
    ).all()
    assert new_notes and {n.type for n in new_notes} <= {"plan.published", "digest.daily"}
    assert all("替代" in n.body for n in new_notes if n.type == "plan.published")

    # The old version takes no new assignments.
    task_id = old[1].task_id
    again = client.post(f"/api/v1/tasks/{task_id}/assignments", json={}, headers=office)
    assert again.status_code == 409 and again.json()["error"]["code"] == "plan.superseded"
