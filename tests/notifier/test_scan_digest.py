"""A full pass tells a unit of many notices of one kind in one `notice.digest` (issue 14 item 4)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema_rs
from sqlmodel import Session, select

from duban import events
from duban.models import Assignment, AssignmentState, Notification, NotificationPolicy, OutboxEvent
from duban.settings import Settings
from notifier.fanout import fan_out
from notifier.render import render
from notifier.scan import scan_deadlines
from tests.factories import make_assignment, make_plan, make_report, make_task, make_unit
from tests.notifier.conftest import add_endpoint, make_world

SH = ZoneInfo("Asia/Shanghai")
# Every notice of 2025-12-31 up to the second escalation level has been reached, none beyond.
NOW = datetime(2026, 1, 13, 9, tzinfo=SH)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def rows(session: Session, type_: str | None = None) -> list[OutboxEvent]:
    q = select(OutboxEvent).order_by(OutboxEvent.id)  # type: ignore[arg-type]
    if type_:
        q = q.where(OutboxEvent.type == type_)
    return list(session.exec(q).all())


def many(session: Session, unit: Any, n: int, due: date = date(2025, 12, 31), **kw: Any) -> list[int]:
    task = make_task(session, plan=make_plan(session))
    made = [
        make_assignment(session, task=task, unit=unit, period=f"p{i}", due_date=due, **kw) for i in range(n)
    ]
    ids = [a.id for a in made]
    session.commit()
    return ids


def set_policy(session: Session, **config: Any) -> None:
    row = session.exec(select(NotificationPolicy).where(NotificationPolicy.plan_id.is_(None))).first()  # type: ignore[union-attr]
    if row is None:
        row = NotificationPolicy(plan_id=None, config={})
    row.config = {**(row.config or {}), **config}
    session.add(row)
    session.commit()


def test_first_pass_digests_a_unit_with_many_and_tells_the_few_one_by_one(
    session: Session, settings: Settings
) -> None:
    w = make_world(session)  # one assignment in w.unit
    crowded = make_unit(session)
    ids = many(session, crowded, 24)
    scan_deadlines(session, now=NOW, settings=settings)
    session.commit()

    digests = rows(session, "notice.digest")
    schema = jsonschema_rs.validator_for(events.json_schema("notice.digest"))
    # Overdue to the unit, level 1 to its head, level 2 to the office, December's missing report:
    # one digest each.
    assert sorted((d.payload["data"]["item_type"], d.payload["data"]["stage"]) for d in digests) == [
        ("assignment.escalated", "L1"),
        ("assignment.escalated", "L2"),
        ("assignment.overdue", "due"),
        ("report.missing", "report-2025-12"),
    ]
    for d in digests:
        data = d.payload["data"]
        events.validate(d.payload)  # the catalog's model, and its published JSON Schema
        assert schema.is_valid(d.payload), list(schema.iter_errors(d.payload))[:3]
        assert d.unit_id == crowded.id and data["unit"]["id"] == crowded.id
        assert data["count"] == 24 and sorted(data["assignment_ids"]) == ids
        # What the pass counted in: due dates up to the cutoff (a report reminder has none).
        assert (data["cutoff"] is None) == data["item_type"].startswith("report.")
        assert data["cutoff"] is None or data["cutoff"] >= "2025-12-31"
    # The crowded unit's assignments have no notice of their own; the lone one has its three.
    singles = [r for r in rows(session) if r.type.startswith(("assignment.", "report."))]
    assert {r.assignment_id for r in singles} == {w.assignment.id}
    assert Counter(r.type for r in singles) == {
        "assignment.overdue": 1,
        "assignment.escalated": 2,
        "report.missing": 1,
    }


def test_a_later_full_pass_tells_each_assignment_once(session: Session, settings: Settings) -> None:
    make_world(session)
    crowded = make_unit(session)
    many(session, crowded, 21)
    scan_deadlines(session, now=NOW, settings=settings)
    session.commit()
    before = len(rows(session))
    # A new plan changes what the pass depends on: the next pass is a full one again.
    late = many(session, crowded, 2, assigned_at=local(2026, 1, 13, 9, 30))
    again = scan_deadlines(session, now=local(2026, 1, 13, 10), settings=settings)
    session.commit()
    new = rows(session)[before:]
    assert again.get("notice.digest", 0) == 0
    # Only the two assigned since the digest, each told one by one (fewer than the policy's 20).
    assert {r.assignment_id for r in new if r.type.startswith(("assignment.", "report."))} == set(late)
    # And a third full pass has nothing left to say.
    set_policy(session, digest_hour=9)
    assert sum(scan_deadlines(session, now=local(2026, 1, 13, 11), settings=settings).values()) == 0


def test_notices_told_one_by_one_before_are_not_digested_after_an_upgrade(
    session: Session, settings: Settings
) -> None:
    make_world(session)
    many(session, make_unit(session), 25)
    set_policy(session, digest_min_items=0)  # as before digests: every notice one by one
    first = scan_deadlines(session, now=NOW, settings=settings)
    session.commit()
    assert "notice.digest" not in first and first["assignment.overdue"] == 26
    set_policy(session, digest_min_items=20)  # a new policy: a full pass
    assert sum(scan_deadlines(session, now=local(2026, 1, 13, 10), settings=settings).values()) == 0


def test_incremental_passes_tell_one_by_one_and_not_what_a_digest_told(
    session: Session, settings: Settings
) -> None:
    make_world(session)
    crowded = make_unit(session)
    ids = many(session, crowded, 22, due=date(2026, 1, 9))
    scan_deadlines(session, now=local(2026, 1, 12, 9), settings=settings)  # overdue since Jan 10
    session.commit()
    assert [d.payload["data"]["stage"] for d in rows(session, "notice.digest")] == ["due", "report-2025-12"]
    # A change to a digested assignment (签收) is looked at again by the next, incremental pass …
    a = session.get(Assignment, ids[0])
    assert a is not None
    a.state = AssignmentState.accepted
    session.add(a)
    session.commit()
    before = len(rows(session))
    scan_deadlines(session, now=local(2026, 1, 12, 10), settings=settings)
    session.commit()
    assert rows(session)[before:] == []  # … and told nothing twice.
    # The first escalation level crossed later: told one by one, each once.
    crossed = scan_deadlines(session, now=local(2026, 1, 15, 9), settings=settings)
    session.commit()
    assert crossed.get("notice.digest", 0) == 0
    escalated = rows(session, "assignment.escalated")
    level1 = [r.assignment_id for r in escalated if r.dedupe_key.endswith(":L1:unit_head")]
    assert sorted(a for a in level1 if a in ids) == ids


def test_a_digest_reaches_people_and_the_endpoints_of_the_notices_it_stands_for(
    session: Session, settings: Settings
) -> None:
    w = make_world(session)
    many(session, w.unit, 20)
    overdue_only = add_endpoint(session, "https://oa.example.gov.cn/hook", event_types=["assignment.overdue"])
    add_endpoint(session, "https://oa.example.gov.cn/other", event_types=["bulletin.published"])
    # Scoped to the plan of one assignment the digest names: it takes the digest too.
    one_plan = add_endpoint(
        session, "https://oa.example.gov.cn/plan", event_types=["assignment.*"], plan_id=w.assignment.plan_id
    )
    scan_deadlines(session, now=NOW, settings=settings)
    fan_out(session, now=NOW, settings=settings)
    digest = next(d for d in rows(session, "notice.digest") if d.payload["data"]["stage"] == "due")
    text = render("notice.digest", digest.payload["data"])
    assert text.title.startswith("【逾期提醒·汇总】") and "21项任务已到期未办结" in text.title
    inbox = session.exec(select(Notification).where(Notification.event_id == digest.id)).all()
    assert {n.user_id for n in inbox} == {w.head.id, w.staff.id}
    assert all(n.title == text.title for n in inbox)
    from duban.models import Delivery

    targets = {d.target for d in session.exec(select(Delivery).where(Delivery.event_id == digest.id)).all()}
    wanted = {f"endpoint:{overdue_only.id}", f"endpoint:{one_plan.id}"}
    assert {t for t in targets if t.startswith("endpoint:")} == wanted


def test_zero_tells_every_notice_one_by_one(session: Session, settings: Settings) -> None:
    make_world(session)
    many(session, make_unit(session), 30)
    set_policy(session, digest_min_items=0)
    counts = scan_deadlines(session, now=NOW, settings=settings)
    assert "notice.digest" not in counts and counts["assignment.overdue"] == 31


def test_a_report_rejected_after_a_digest_is_reminded(session: Session, settings: Settings) -> None:
    """A digest names what it counted: an assignment whose report was in then, and is rejected
    later, is reminded one by one (a unit's digest is no blanket over its assignments)."""
    from duban.models import ProgressReportState

    make_world(session)
    crowded = make_unit(session)
    ids = many(session, crowded, 21, due=date(2026, 12, 31))
    reported = ids[0]
    a = session.get(Assignment, reported)
    assert a is not None
    report = make_report(session, assignment=a, period="2025-12")
    session.commit()
    scan_deadlines(session, now=local(2025, 12, 26, 9), settings=settings)  # December's deadline passed
    session.commit()
    (digest,) = [
        d for d in rows(session, "notice.digest") if d.payload["data"]["item_type"] == "report.missing"
    ]
    assert sorted(digest.payload["data"]["assignment_ids"]) == ids[1:]
    report.state = ProgressReportState.rejected
    session.add(report)
    session.commit()
    scan_deadlines(session, now=local(2025, 12, 26, 10), settings=settings)
    session.commit()
    missing = [r.assignment_id for r in rows(session, "report.missing") if r.unit_id == crowded.id]
    assert missing == [reported]


def test_plans_reporting_on_different_days_have_a_digest_each_for_the_same_period(
    session: Session, settings: Settings
) -> None:
    set_policy(session, digest_min_items=2)
    unit = make_unit(session)
    named: dict[int, list[int]] = {}
    for due_day in (20, 25):
        # Both deadlines of December (the 22nd, the 20th moved off a Saturday, and the 25th)
        # have passed on 5 January, the January ones not yet: December's report is missing twice.
        task = make_task(session, plan=make_plan(session, report_cadence="monthly", report_due_day=due_day))
        named[due_day] = [
            make_assignment(
                session, task=task, unit=unit, period=f"d{due_day}-{i}", due_date=date(2026, 6, 30)
            ).id
            for i in range(3)
        ]
    session.commit()
    scan_deadlines(session, now=local(2026, 1, 5, 9), settings=settings)
    session.commit()

    digests = [
        d for d in rows(session, "notice.digest") if d.payload["data"]["item_type"] == "report.missing"
    ]
    assert sorted(sorted(d.payload["data"]["assignment_ids"]) for d in digests) == sorted(
        sorted(ids) for ids in named.values()
    )
    assert {d.payload["data"]["stage"] for d in digests} == {"report-2025-12"}
    assert rows(session, "report.missing") == []
