"""Bulletins and assessments for a past period show what was true at its end, rebuilt from history.

The story goes through the real services (every write audited by duban.uow), each step at its own
instant, in Asia/Shanghai; reports are monthly, due on the 25th.

| a  | unit | task due   | history                                                                        |
|----|------|------------|--------------------------------------------------------------------------------|
| a1 | 科技 | 2025-06-30 | accepted 2025-01-08; January 2026 report in 01-20, approved 02-03 (80 %);      |
|    |      |            | completed 2026-02-10                                                           |
| a2 | 财政 | 2025-12-31 | accepted 2025-01-08; extension to 2026-06-30 asked 02-20, approved 2026-03-02  |
| a3 | 科技 | 2025-10-31 | accepted 2025-01-08; completed 2025-09-15 (early)                              |
| a4 | 财政 | 2026-09-30 | assigned 2026-03-01 (after January)                                            |
| a5 | 财政 | 2025-11-28 | accepted 2025-01-08; June 2025 report rejected 06-23, sent again 06-24 and     |
|    |      |            | approved; cancelled 2026-02-05                                                 |

Generated in December 2026, the January 2026 bulletin and the 2025 annual assessment must say exactly
what they said when generated at the very end of their period, before the rest of the story was
written (then the table itself was the truth).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col

from api.assignment import service as assignment_service
from api.extension import service as extension_service
from api.report import service as report_service
from duban import history
from duban.clock import FixedClock
from duban.models import (
    Assignment,
    AssignmentState,
    Plan,
    ProgressReport,
    ReportCadence,
    Role,
    Unit,
    User,
)
from tests.api.conftest import AsRole
from tests.api.sv_factories import make_sv_assignment
from tests.factories import make_plan, make_section, make_task, make_unit, make_user


def _at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h - 8, tzinfo=UTC)  # local (UTC+8) hour h


END_OF_JANUARY_2026 = datetime(2026, 1, 31, 16, tzinfo=UTC)  # 2026-02-01 00:00 local
END_OF_2025 = datetime(2025, 12, 31, 16, tzinfo=UTC)  # 2026-01-01 00:00 local
DECEMBER_2026 = _at(2026, 12, 10)
JANUARY = {"period_kind": "month", "period_start": "2026-01-01"}
YEAR_2025 = {"period_kind": "year", "period_start": "2025-06-15"}


class Story:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.plan: Plan = make_plan(
            session,
            title="涟水县科技创新行动计划（2025—2026年）",
            period_start=date(2025, 1, 1),
            period_end=date(2026, 12, 31),
            report_cadence=ReportCadence.monthly,
            report_due_day=25,
            timezone="Asia/Shanghai",
        )
        section = make_section(
            session, plan=self.plan, code="一", title="实施创新主体培育攻坚行动", position=1
        )
        self.tech = make_unit(session, name="县科技局")
        self.finance = make_unit(session, name="县财政局")
        self.office = make_user(session, roles=[Role.office])
        self.heads = {
            u.id: make_user(session, roles=[Role.unit_head], unit_id=u.id) for u in (self.tech, self.finance)
        }
        self.tasks = [
            make_task(session, plan=self.plan, section=section, code=str(n), title=f"任务{n}", position=n)
            for n in range(1, 6)
        ]
        session.commit()
        self.a: dict[str, Assignment] = {}

    def assign(self, name: str, task: int, unit: Unit, due: date, at: datetime) -> Assignment:
        result = assignment_service.assign(
            session=self.session,
            task=self.tasks[task - 1],
            actor=self.office,
            now=at,
            unit_ids=[unit.id or 0],
            due_date=due,
        )
        self.a[name] = result.created[0]
        return self.a[name]

    def act(self, name: str, action: str, at: datetime) -> None:
        a = self.a[name]
        actor: User = self.office if action in ("approve", "cancel") else self.heads[a.unit_id]
        assignment_service.transition(session=self.session, assignment=a, action=action, actor=actor, now=at)

    def report(self, name: str, period: str, percent: int, at: datetime) -> Any:
        a = self.a[name]
        head = self.heads[a.unit_id]
        r = report_service.create(
            session=self.session,
            user=head,
            assignment=a,
            data={"period": period, "percent_done": percent, "text": "按计划推进"},
            now=at,
        )
        return report_service.submit(session=self.session, user=head, report=r, now=at)

    def review(self, report: Any, approve: bool, at: datetime) -> None:
        report_service.review(
            session=self.session,
            user=self.office,
            report=report,
            approve=approve,
            comment=None if approve else "数据不全，请补充",
            now=at,
        )


def tell_2025(session: Session) -> Story:
    s = Story(session)
    start = _at(2025, 1, 6)
    s.assign("a1", 1, s.tech, date(2025, 6, 30), start)
    s.assign("a2", 2, s.finance, date(2025, 12, 31), start)
    s.assign("a3", 3, s.tech, date(2025, 10, 31), start)
    s.assign("a5", 5, s.finance, date(2025, 11, 28), start)
    for name in ("a1", "a2", "a3", "a5"):
        s.act(name, "accept", _at(2025, 1, 8))
    june = s.report("a5", "2025-06", 40, _at(2025, 6, 20))
    s.review(june, False, _at(2025, 6, 23))
    head = s.heads[s.finance.id or 0]
    june = report_service.submit(session=session, user=head, report=june, now=_at(2025, 6, 24))
    s.review(june, True, _at(2025, 6, 26))
    s.act("a3", "request-completion", _at(2025, 9, 12))
    s.act("a3", "approve", _at(2025, 9, 15))
    return s


def tell_january(s: Story) -> None:
    s.report("a1", "2026-01", 80, _at(2026, 1, 20))


def tell_since(s: Story) -> None:
    session = s.session
    january = session.exec(
        sa.select(ProgressReport).where(col(ProgressReport.assignment_id) == s.a["a1"].id)  # type: ignore[call-overload]
    ).one()[0]
    s.review(january, True, _at(2026, 2, 3))
    s.act("a5", "cancel", _at(2026, 2, 5))
    s.act("a1", "request-completion", _at(2026, 2, 9))
    s.act("a1", "approve", _at(2026, 2, 10))
    ext = extension_service.request(
        session=session,
        user=s.heads[s.finance.id or 0],
        assignment=s.a["a2"],
        requested_due_date=date(2026, 6, 30),
        reason="配套资金尚未到位",
        now=_at(2026, 2, 20),
    )
    extension_service.decide(
        session=session, user=s.office, ext=ext, approve=True, comment=None, now=_at(2026, 3, 2)
    )
    s.assign("a4", 4, s.finance, date(2026, 9, 30), _at(2026, 3, 1))


def tell(session: Session) -> Story:
    s = tell_2025(session)
    tell_january(s)
    tell_since(s)
    return s


def _generate(
    client: TestClient, as_role: AsRole, clock: FixedClock, at: datetime, path: str, body: dict[str, Any]
) -> Any:
    clock.set(at)
    r = client.post(path, json=body, headers=as_role("office"))
    assert r.status_code == 201, r.text
    return r.json()


def _described(bulletin: dict[str, Any]) -> dict[str, Any]:
    """A bulletin's content without what only says when and how often it was generated."""
    return {k: v for k, v in bulletin["content"].items() if k not in ("header", "generated_at", "version")}


def test_january_2026_bulletin_generated_in_december_shows_january(
    client: TestClient, as_role: AsRole, clock: FixedClock, session: Session
) -> None:
    s = tell_2025(session)
    tell_january(s)
    path = f"/api/v1/plans/{s.plan.id}/bulletins"
    then = _generate(client, as_role, clock, END_OF_JANUARY_2026, path, JANUARY)
    tell_since(s)
    later = _generate(client, as_role, clock, DECEMBER_2026, path, JANUARY)
    assert later["version"] == 2 and later["content"]["header"]["date"] == "2026-12-10"
    assert _described(later) == _described(then)
    assert later["markdown"].replace("2026年12月10日", "2026年2月1日") == then["markdown"]

    c = later["content"]
    assert (c["as_of"], c["as_of_date"]) == ("2026-01-31T16:00:00+00:00", "2026-01-31")
    summary = c["summary"]
    # a4 did not exist yet; a1 (completed in February) and a5 (cancelled in February) were open and
    # overdue; a2 was due 2025-12-31 — its extension came in March.
    assert (summary["total"], summary["completed"], summary["open"], summary["overdue"]) == (4, 1, 3, 3)
    assert summary["completed_in_period"] == 0
    assert summary["report_rate"] == pytest.approx(1 / 3, abs=1e-4)  # a1's January report, approved later
    assert summary["text"].startswith("截至2026年1月31日，")
    overdue = {
        g["unit_name"]: [(x["task_code"], x["due_date"], x["working_days_overdue"]) for x in g["items"]]
        for g in c["overdue_by_unit"]
    }
    assert overdue == {
        "县科技局": [("1", "2025-06-30", overdue["县科技局"][0][2])],
        # 2025-12-31 + the working days of January 2026 (4th, a Sunday worked for New Year, onwards).
        "县财政局": [("5", "2025-11-28", overdue["县财政局"][0][2]), ("2", "2025-12-31", 21)],
    }
    assert overdue["县科技局"][0][2] > overdue["县财政局"][0][2] > 21

    # The same plan today: a1 done, a5 cancelled, a4 new, a2 due in June.
    december = _generate(client, as_role, clock, DECEMBER_2026, path, {"period_kind": "month"})["content"]
    assert (december["summary"]["total"], december["summary"]["completed"]) == (5, 2)
    assert sorted(x["due_date"] for g in december["overdue_by_unit"] for x in g["items"]) == [
        "2026-06-30",
        "2026-09-30",
    ]


def _lines(body: dict[str, Any]) -> dict[str, list[tuple[str, Any, float]]]:
    return {
        s["unit_name"]: [
            (x["rule"], (x["item"] or {}).get("assignment_id"), x["points"]) for x in s["breakdown"]
        ]
        for s in body["scores"]
    }


def test_annual_assessment_2025_generated_in_december_2026(
    client: TestClient, as_role: AsRole, clock: FixedClock, session: Session
) -> None:
    s = tell_2025(session)
    path = f"/api/v1/plans/{s.plan.id}/assessments"
    then = _generate(client, as_role, clock, END_OF_2025, path, YEAR_2025)
    tell_january(s)
    tell_since(s)
    later = _generate(client, as_role, clock, DECEMBER_2026, path, YEAR_2025)
    assert (later["period_kind"], later["period_start"], later["period_end"], later["period_label"]) == (
        "year",
        "2025-01-01",
        "2025-12-31",
        "2025年度",
    )
    assert later["scores"] == then["scores"]

    ids = {k: v.id for k, v in s.a.items()}
    lines = _lines(later)
    by_rule: dict[str, dict[str, float]] = {}
    for unit, items in lines.items():
        for rule, _, points in items:
            by_rule.setdefault(unit, {}).setdefault(rule, 0)
            by_rule[unit][rule] += points
    # 科技: a1 open and overdue from July (capped at 5), no 2025 report from a1 (12 deadlines) nor
    # from a3 before it was done (January–August: 8), a3 completed early.
    assert by_rule["县科技局"] == {
        "base": 100,
        "overdue": -5,
        "missing_report": -20,
        "early_completion": 0.5,
    }
    # 财政: a5 open (cancelled only in 2026) and overdue through December (capped), a2 not yet
    # overdue on 2025-12-31; no reports but a5's June one; that June report rejected once.
    assert by_rule["县财政局"] == {
        "base": 100,
        "overdue": -5,
        "missing_report": -23,
        "returned_or_rejected": -1,
    }
    assert ("overdue", ids["a1"], -5) in lines["县科技局"] and ("overdue", ids["a5"], -5) in lines["县财政局"]
    assert all(item != ids["a4"] for items in lines.values() for _, item, _ in items)
    assert {x["unit_name"]: x["score"] for x in later["scores"]} == {"县科技局": 75.5, "县财政局": 71}


def test_assignments_at_rebuilds_rows_and_falls_back_on_timestamps(session: Session) -> None:
    s = tell(session)
    # A row written outside the write path (no audit entry), completed in February 2026.
    loose = make_sv_assignment(
        session,
        task=s.tasks[3],
        unit=s.tech,
        state=AssignmentState.completed,
        due_date=date(2025, 12, 31),
        assigned_at=_at(2025, 1, 6),
        accepted_at=_at(2025, 1, 7),
        completed_at=_at(2026, 2, 12),
    )
    session.commit()

    def rows(at: datetime) -> dict[int, tuple[str, date | None, int, datetime | None]]:
        src = history.assignments_at(at, plan_id=s.plan.id, dialect=session.get_bind().dialect.name)
        stmt = sa.select(src.c.id, src.c.state, src.c.due_date, src.c.percent_done, src.c.due_at)
        return {r.id: (r.state, r.due_date, r.percent_done, r.due_at) for r in session.execute(stmt)}

    ids = {k: v.id for k, v in s.a.items()}
    jan = rows(END_OF_JANUARY_2026)
    assert {i: v[0] for i, v in jan.items()} == {
        ids["a1"]: "accepted",
        ids["a2"]: "accepted",
        ids["a3"]: "completed",
        ids["a5"]: "accepted",
        loose.id: "accepted",
    }
    assert jan[ids["a2"]][1] == date(2025, 12, 31)
    assert jan[ids["a2"]][3] == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert jan[ids["a1"]][2] == 0  # the January report moved it to 80 % when approved on 02-03
    feb = rows(_at(2026, 2, 4))
    assert feb[ids["a1"]][2] == 80
    assert feb[ids["a5"]][0] == "accepted" and rows(_at(2026, 2, 6))[ids["a5"]][0] == "cancelled"
    assert rows(_at(2026, 3, 3))[ids["a2"]][1:4:2] == (
        date(2026, 6, 30),
        datetime(2026, 6, 30, 16, tzinfo=UTC),
    )
    assert rows(_at(2025, 1, 7, 9))[loose.id][0] == "assigned"
    assert rows(_at(2026, 2, 13))[loose.id][0] == "completed"
    assert rows(_at(2025, 1, 5)) == {}
