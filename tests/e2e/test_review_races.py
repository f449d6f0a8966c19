"""Parallel reviews of one item against `duban api --workers 2` on PostgreSQL: exactly one wins.

The first wave answered 200 to all six parallel approvals of one report and wrote six audit
entries and six events; the unit of work's row versions make the database pick one winner.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, text
from sqlmodel import Session

from api.security import hash_password
from duban.db import make_engine
from duban.models import (
    Assignment,
    AssignmentState,
    ExtensionRequest,
    ProgressReport,
    ProgressReportState,
    Role,
    User,
)
from tests.e2e.conftest import ApiProcess
from tests.factories import make_assignment, make_plan, make_task, make_unit

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql_only]

PARALLEL = 6
PASSWORD = "office-password-1"


def _seed(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        plan = make_plan(session)
        unit = make_unit(session)
        session.add(User(username="office1", roles=[Role.office], password_hash=hash_password(PASSWORD)))
        ids: dict[str, int] = {}
        for name, state in (
            ("report", AssignmentState.accepted),
            ("extension", AssignmentState.accepted),
            ("completion", AssignmentState.completion_requested),
        ):
            a = make_assignment(session, task=make_task(session, plan=plan), unit=unit, state=state)
            ids[f"{name}_assignment"] = a.id
        report = ProgressReport(
            assignment_id=ids["report_assignment"],
            unit_id=unit.id,
            plan_id=plan.id,
            period="2025-11",
            text="已完成",
            percent_done=60,
            state=ProgressReportState.submitted,
        )
        ext = ExtensionRequest(
            assignment_id=ids["extension_assignment"],
            unit_id=unit.id,
            requested_due_date=date(2026, 3, 31),
            previous_due_date=date(2025, 12, 31),
            reason="需要更多时间",
            created_at=datetime(2025, 12, 1, tzinfo=UTC),
            updated_at=datetime(2025, 12, 1, tzinfo=UTC),
        )
        session.add_all([report, ext])
        session.commit()
        ids["report"], ids["extension"] = report.id or 0, ext.id or 0
    engine.dispose()
    return ids


def _race(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = [0] * len(calls)

    def fire(i: int, path: str, body: dict[str, Any]) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            barrier.wait()
            r = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
            statuses[i] = r.status_code
            if r.status_code == 409:
                assert r.json()["error"]["message"]

    threads = [threading.Thread(target=fire, args=(i, p, b)) for i, (p, b) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _counts(
    url: str, entity_type: str, entity_id: int, actions: tuple[str, ...], event: str
) -> tuple[int, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        audits = conn.execute(
            text(
                "SELECT count(*) FROM audit_entry WHERE entity_type = :t AND entity_id = :i AND action IN :a"
            ).bindparams(bindparam("a", expanding=True)),
            {"t": entity_type, "i": str(entity_id), "a": list(actions)},
        ).scalar_one()
        events = conn.execute(
            text("SELECT count(*) FROM outbox_event WHERE type = :e"), {"e": event}
        ).scalar_one()
    engine.dispose()
    return int(audits), int(events)


@pytest.mark.parametrize("mix", ["approve", "approve_and_reject"])
def test_parallel_reviews_have_one_winner(two_workers: ApiProcess, committed_url: str, mix: str) -> None:
    ids = _seed(committed_url)
    with httpx.Client(base_url=two_workers.url, timeout=30) as client:
        token = client.post("/api/v1/auth/token", data={"username": "office1", "password": PASSWORD}).json()[
            "access_token"
        ]

    def calls(approve: str, reject: str, reason_key: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for i in range(PARALLEL):
            if mix == "approve" or i % 2 == 0:
                out.append((approve, {}))
            else:
                out.append((reject, {reason_key: "材料不全"}))
        return out

    cases = [
        (
            "progress_report",
            ids["report"],
            calls(
                f"/api/v1/reports/{ids['report']}/approve",
                f"/api/v1/reports/{ids['report']}/reject",
                "reason",
            ),
            ("report.approve", "report.reject"),
            "report.reviewed",
        ),
        (
            "extension_request",
            ids["extension"],
            calls(
                f"/api/v1/extension-requests/{ids['extension']}/approve",
                f"/api/v1/extension-requests/{ids['extension']}/reject",
                "comment",
            ),
            ("extension.approve", "extension.reject"),
            "extension.decided",
        ),
        (
            "assignment",
            ids["completion_assignment"],
            calls(
                f"/api/v1/assignments/{ids['completion_assignment']}/approve",
                f"/api/v1/assignments/{ids['completion_assignment']}/reject",
                "reason",
            ),
            ("assignment.approve", "assignment.reject"),
            None,
        ),
    ]
    for entity_type, entity_id, race, actions, event in cases:
        statuses = _race(two_workers.url, token, race)
        assert sorted(statuses) == [200] + [409] * (PARALLEL - 1), (entity_type, statuses)
        audits, events = _counts(committed_url, entity_type, entity_id, actions, event or "-")
        assert audits == 1, (entity_type, audits)
        if event:
            assert events == 1, (entity_type, events)
    engine = make_engine(committed_url)
    with Session(engine) as session:
        a = session.get(Assignment, ids["completion_assignment"])
        assert a is not None and a.state in (AssignmentState.completed, AssignmentState.accepted)
        completion_events = session.execute(
            text(
                "SELECT count(*) FROM outbox_event WHERE assignment_id = :a "
                "AND type IN ('assignment.completed', 'completion.rejected')"
            ),
            {"a": a.id},
        ).scalar_one()
        assert completion_events == 1
    engine.dispose()
