"""The assignment state machine through the HTTP API, against an independent model (Hypothesis).

Two units hold one task each (one assignment per unit). Rules are the actions of DESIGN.md's state
diagram (accept, return, request completion, approve, reject, cancel, reassign), extension requests
and their decisions, progress reports and their approval, and the clock moving on by working days.
Every rule is tried in every state: where the model says the move is illegal the API must answer
409 in the error envelope and change nothing. After every step the invariants compare what the API
derives — state, overdue, working days overdue, percent done, and the 红黄绿灯 per unit and for the
plan — with the model, which counts working days one date at a time (the API subtracts ordinals).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import Session

from duban import calendar
from duban.clock import FixedClock
from duban.models import PlanState, Role
from tests.api.conftest import auth_headers
from tests.conftest import DEFAULT_NOW
from tests.factories import make_plan, make_task, make_unit, make_user

ZONE = ZoneInfo("Asia/Shanghai")
OPEN = {"assigned", "accepted", "returned", "completion_requested"}
# Bounded in CI; `make fuzz` (DUBAN_FUZZ=long) runs many more and longer examples.
LONG = os.environ.get("DUBAN_FUZZ") == "long"
EXAMPLES = int(os.environ.get("DUBAN_STATEFUL_EXAMPLES", "200" if LONG else "5"))
STEPS = int(os.environ.get("DUBAN_STATEFUL_STEPS", "50" if LONG else "30"))
PLAN_START = date(2025, 9, 1)
REPORT_DUE_DAY = 25
BEHIND_TOLERANCE = 20
# Working days in December 2025 and January 2026 (and a Friday before a holiday).
# The model's own table of DESIGN.md's state diagram: action → (states it may start from, target).
MOVES: dict[str, tuple[set[str], str]] = {
    "accept": ({"assigned"}, "accepted"),
    "return": ({"assigned"}, "returned"),
    "request-completion": ({"accepted"}, "completion_requested"),
    "approve": ({"completion_requested"}, "completed"),
    "reject": ({"completion_requested"}, "accepted"),
    "cancel": ({"assigned", "accepted", "returned", "completion_requested"}, "cancelled"),
    "reassign": ({"returned"}, "assigned"),
}
DUE_DATES = [date(2025, 12, 3), date(2025, 12, 10), date(2025, 12, 19), date(2025, 12, 31), date(2026, 1, 9)]


def working_day(d: date) -> bool:
    return calendar.is_working_day(d)


def next_working_day_on_or_after(d: date) -> date:
    while not working_day(d):
        d += timedelta(days=1)
    return d


def working_days_overdue(due: date, today: date) -> int:
    """Working days wholly ended after the due date: every date in (due, today), counted one by one."""
    n, d = 0, due + timedelta(days=1)
    while d < today:
        n += working_day(d)
        d += timedelta(days=1)
    return n


def expected_percent(start: date, due: date, today: date) -> int:
    if due <= start or today >= due:
        return 100
    if today <= start:
        return 0
    return int(100 * (today - start).days / (due - start).days)


@dataclass
class ModelAssignment:
    id: int
    unit: str
    state: str = "assigned"
    due: date = DUE_DATES[0]
    overdue_from: date | None = None  # assigned after its due date: counted from that day
    percent: int = 0
    pending_extension: int | None = None  # request id
    extension_requested_due: date | None = None
    reports: dict[str, tuple[int, str]] = field(default_factory=dict)  # period → (id, state)
    report_percent: dict[int, int] = field(default_factory=dict)


def _envelope_409(r: Any) -> None:
    assert r.status_code == 409, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] and err["message"], err
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err["message"]), err


def test_assignment_state_machine(client: TestClient, session: Session, clock: FixedClock) -> None:
    office = make_user(session, roles=[Role.office])
    units = {key: make_unit(session, name=f"状态机单位{key}") for key in ("a", "b")}
    heads = {key: make_user(session, roles=[Role.unit_head], unit_id=u.id) for key, u in units.items()}
    session.commit()
    stats = {"examples": 0, "steps": 0, "illegal": 0}
    moves: Counter[str] = Counter()

    class AssignmentMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            stats["examples"] += 1
            clock.set(DEFAULT_NOW)
            self.office = auth_headers(office, clock)
            self.heads = {k: auth_headers(u, clock) for k, u in heads.items()}
            plan = make_plan(
                session,
                state=PlanState.published,
                period_start=PLAN_START,
                period_end=date(2026, 6, 30),
                report_due_day=REPORT_DUE_DAY,
            )
            self.plan = plan
            self.items: dict[str, ModelAssignment] = {}
            self.done: list[ModelAssignment] = []  # earlier, terminal assignments (they count in stats)
            for key in units:
                self._assign(key, DUE_DATES[1])

        def _assign(self, key: str, due: date) -> None:
            """A new task of the plan, assigned to the unit through the API."""
            task = make_task(session, plan=self.plan, due_date=due)
            session.commit()
            r = client.post(
                f"/api/v1/tasks/{task.id}/assignments",
                json={"unit_ids": [units[key].id], "due_date": due.isoformat()},
                headers=self.office,
            )
            assert r.status_code == 201, r.text
            (row,) = r.json()["created"]
            if key in self.items:
                self.done.append(self.items[key])
            effective = next_working_day_on_or_after(due)
            self.items[key] = ModelAssignment(
                id=row["id"],
                unit=key,
                due=effective,
                overdue_from=self.today if effective < self.today else None,
            )

        # --- helpers ---------------------------------------------------------------------------

        @property
        def today(self) -> date:
            return calendar.local_date(clock.now(), ZONE)

        def _get(self, m: ModelAssignment) -> dict[str, Any]:
            r = client.get(f"/api/v1/assignments/{m.id}", headers=self.office)
            assert r.status_code == 200, r.text
            return dict(r.json())

        def _act(self, key: str, action: str, legal_from: set[str], target: str, **body: Any) -> None:
            stats["steps"] += 1
            m = self.items[key]
            headers = self.heads[key] if action in ("accept", "return", "request-completion") else self.office
            before = self._get(m)
            r = client.post(f"/api/v1/assignments/{m.id}/{action}", json=body or None, headers=headers)
            if m.state in legal_from:
                assert r.status_code == 200, (action, m.state, r.text)
                moves[action] += 1
                m.state = target
                if target == "completed":
                    m.percent = 100
            else:
                stats["illegal"] += 1
                _envelope_409(r)
                assert r.json()["error"]["code"] == "assignment.illegal_transition"
                assert r.json()["error"]["details"]["state"] == m.state
                after = self._get(m)
                assert after["version"] == before["version"] and after["state"] == before["state"]

        # --- the state machine -------------------------------------------------------------------

        units_ = st.sampled_from(["a", "b"])

        def _eligible(self, action: str) -> list[str]:
            return [k for k, m in self.items.items() if m.state in MOVES[action][0]]

        def _legal(self, action: str, data: st.DataObject, **body: Any) -> str:
            key: str = data.draw(st.sampled_from(self._eligible(action)), label="unit")
            self._act(key, action, *MOVES[action], **body)
            return key

        @precondition(lambda self: self._eligible("accept"))
        @rule(data=st.data())
        def accept(self, data: st.DataObject) -> None:
            self._legal("accept", data)

        @precondition(lambda self: self._eligible("return"))
        @rule(data=st.data())
        def return_(self, data: st.DataObject) -> None:
            self._legal("return", data, reason="不属于本单位职责")

        @precondition(lambda self: self._eligible("request-completion"))
        @rule(data=st.data())
        def request_completion(self, data: st.DataObject) -> None:
            self._legal("request-completion", data)

        @precondition(lambda self: self._eligible("approve"))
        @rule(data=st.data())
        def approve(self, data: st.DataObject) -> None:
            self._legal("approve", data)

        @precondition(lambda self: self._eligible("reject"))
        @rule(data=st.data())
        def reject(self, data: st.DataObject) -> None:
            self._legal("reject", data, reason="材料不全")

        @precondition(lambda self: self._eligible("cancel"))
        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            # One time in four: cancelling ends an assignment, and the deeper states need steps.
            if data.draw(st.integers(0, 3), label="cancel now") == 0:
                self._legal("cancel", data)

        @precondition(lambda self: self._eligible("reassign"))
        @rule(data=st.data(), due=st.none() | st.sampled_from(DUE_DATES))
        def reassign(self, data: st.DataObject, due: date | None) -> None:
            key = self._legal("reassign", data, **({"due_date": due.isoformat()} if due else {}))
            if due is not None:
                self.items[key].due = next_working_day_on_or_after(due)

        @rule(key=units_, action=st.sampled_from(sorted(MOVES)))
        def illegal_move(self, key: str, action: str) -> None:
            """Any move the model says is illegal now: 409 in the envelope, nothing changed."""
            sources, target = MOVES[action]
            if self.items[key].state in sources:
                return
            body = {"reason": "理由"} if action in ("return", "reject") else {}
            self._act(key, action, sources, target, **body)

        @rule(key=units_, days=st.integers(min_value=1, max_value=20))
        def request_extension(self, key: str, days: int) -> None:
            stats["steps"] += 1
            m = self.items[key]
            wanted = m.due + timedelta(days=days)
            r = client.post(
                f"/api/v1/assignments/{m.id}/extension-requests",
                json={"requested_due_date": wanted.isoformat(), "reason": "需协调资金"},
                headers=self.heads[key],
            )
            if m.state not in OPEN:
                stats["illegal"] += 1
                _envelope_409(r)
            elif m.pending_extension is not None:
                stats["illegal"] += 1
                _envelope_409(r)
                assert r.json()["error"]["code"] == "extension.pending_exists"
            else:
                assert r.status_code == 201, r.text
                m.pending_extension = r.json()["id"]
                m.extension_requested_due = wanted

        @rule(key=units_, approve=st.booleans())
        def decide_extension(self, key: str, approve: bool) -> None:
            m = self.items[key]
            if m.pending_extension is None:
                return
            stats["steps"] += 1
            verb = "approve" if approve else "reject"
            r = client.post(
                f"/api/v1/extension-requests/{m.pending_extension}/{verb}",
                json={"comment": "同意" if approve else "理由不充分"},
                headers=self.office,
            )
            if approve and m.state not in OPEN:
                stats["illegal"] += 1
                _envelope_409(r)
                return
            assert r.status_code == 200, r.text
            if approve:
                assert m.extension_requested_due is not None
                m.due = next_working_day_on_or_after(m.extension_requested_due)
            m.pending_extension = None
            m.extension_requested_due = None

        @rule(key=units_, percent=st.integers(min_value=0, max_value=100))
        def report(self, key: str, percent: int) -> None:
            """The unit reports on this month and submits; the report is then awaiting review."""
            stats["steps"] += 1
            m = self.items[key]
            period = self.today.strftime("%Y-%m")
            r = client.post(
                f"/api/v1/assignments/{m.id}/reports",
                json={"text": "按计划推进", "percent_done": percent},
                headers=self.heads[key],
            )
            if m.state not in ("accepted", "completion_requested"):
                stats["illegal"] += 1
                _envelope_409(r)
                return
            if period in m.reports:
                stats["illegal"] += 1
                _envelope_409(r)
                assert r.json()["error"]["code"] == "report.duplicate_period"
                return
            assert r.status_code == 201, r.text
            rid = r.json()["id"]
            r = client.post(f"/api/v1/reports/{rid}/submit", headers=self.heads[key])
            assert r.status_code == 200, r.text
            m.reports[period] = (rid, "submitted")
            m.report_percent[rid] = percent

        @rule(key=units_)
        def approve_report(self, key: str) -> None:
            m = self.items[key]
            submitted = [(p, rid) for p, (rid, s) in m.reports.items() if s == "submitted"]
            if not submitted:
                return
            stats["steps"] += 1
            period, rid = submitted[0]
            r = client.post(f"/api/v1/reports/{rid}/approve", json={}, headers=self.office)
            assert r.status_code == 200, r.text
            moves["report-approve" if m.state in OPEN else "report-approve-after-close"] += 1
            m.reports[period] = (rid, "approved")
            if m.state in OPEN:
                m.percent = m.report_percent[rid]
            # Approving again is illegal: 409, nothing changes.
            again = client.post(f"/api/v1/reports/{rid}/approve", json={}, headers=self.office)
            _envelope_409(again)

        @rule(key=units_, due=st.sampled_from(DUE_DATES))
        def assign_another_task(self, key: str, due: date) -> None:
            """Once the unit's assignment is closed, the office gives it another task (maybe already late)."""
            if self.items[key].state in OPEN:
                return
            stats["steps"] += 1
            self._assign(key, due)

        @rule(days=st.integers(min_value=1, max_value=6))
        def advance_working_days(self, days: int) -> None:
            """The clock moves on to 09:00 of the `days`-th working day after today."""
            d = self.today
            while days:
                d += timedelta(days=1)
                days -= working_day(d)
            clock.set(datetime.combine(d, time(9), ZONE))
            self.office = auth_headers(office, clock)
            self.heads = {k: auth_headers(u, clock) for k, u in heads.items()}

        # --- invariants --------------------------------------------------------------------------

        def _model_overdue(self, m: ModelAssignment) -> bool:
            return m.state in OPEN and self.today > m.due

        def _model_days(self, m: ModelAssignment) -> int:
            if not self._model_overdue(m):
                return 0
            return working_days_overdue(max(m.due, m.overdue_from or m.due), self.today)

        def _of(self, key: str) -> list[ModelAssignment]:
            return [m for m in [*self.done, *self.items.values()] if m.unit == key]

        def _model_rag(self, ms: list[ModelAssignment]) -> str:
            today = self.today
            if any(self._model_overdue(m) for m in ms):
                return "red"
            behind = any(
                m.state in OPEN
                and not self._model_overdue(m)
                and m.percent < expected_percent(PLAN_START, m.due, today) - BEHIND_TOLERANCE
                for m in ms
            )
            period = today.strftime("%Y-%m")
            report_due = next_working_day_on_or_after(today.replace(day=REPORT_DUE_DAY))
            owing = [m for m in ms if m.state in OPEN and m.state != "returned"]
            missing = [m for m in owing if period not in m.reports]
            if behind or (today > report_due and missing):
                return "yellow"
            return "green"

        @invariant()
        def assignments_match_the_model(self) -> None:
            for m in self.items.values():
                got = self._get(m)
                assert got["state"] == m.state
                assert date.fromisoformat(got["due_date"]) == m.due
                assert got["overdue"] == self._model_overdue(m), (got, self.today)
                assert got["working_days_overdue"] == self._model_days(m), (m, self.today)
                assert got["percent_done"] == m.percent

        @invariant()
        def rag_matches_the_model(self) -> None:
            r = client.get(f"/api/v1/stats/plans/{self.plan.id}/units", headers=self.office)
            assert r.status_code == 200, r.text
            rows = {row["id"]: row for row in r.json()["items"]}
            for key in units:
                ms, row = self._of(key), rows[units[key].id]
                assert row["rag"] == self._model_rag(ms), (row, ms, self.today)
                assert row["overdue"] == sum(self._model_overdue(m) for m in ms)
                assert row["overdue_working_days_max"] == max(self._model_days(m) for m in ms)
            plan = client.get(f"/api/v1/stats/plans/{self.plan.id}", headers=self.office).json()
            everything = [*self.done, *self.items.values()]
            assert plan["rag"] == self._model_rag(everything), (plan, self.today)

    run_state_machine_as_test(
        AssignmentMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"state machine: {stats}, legal moves {dict(sorted(moves.items()))}")  # noqa: T201
    assert stats["examples"] >= EXAMPLES and stats["illegal"] > 0
