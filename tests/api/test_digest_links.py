"""A digest's link lists what it counts: its filters, asked of GET /assignments, give back the
assignments it names (issue 14's digests; the workbench's 事项清单 shows that list)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from duban.models import OutboxEvent
from duban.settings import get_settings
from notifier.scan import scan_deadlines
from tests.api.conftest import AsRole
from tests.factories import make_assignment, make_plan, make_task, make_unit

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 13, 9, tzinfo=SH)  # Tuesday


def test_each_digest_link_lists_exactly_what_it_names(
    client: TestClient, as_role: AsRole, session: Session, clock: Any
) -> None:
    clock.set(NOW)
    unit, other = make_unit(session, name="县科技局"), make_unit(session, name="县财政局")
    task = make_task(session, plan=make_plan(session))
    # Overdue since 31 December (levels 1 and 2 reached), and due on 22 January: 7 working days
    # ahead, beyond the 3-day stage. December's report missing for all of them.
    for i in range(22):
        make_assignment(session, task=task, unit=unit, period=f"o{i}", due_date=date(2025, 12, 31))
        make_assignment(session, task=task, unit=unit, period=f"s{i}", due_date=date(2026, 1, 22))
    make_assignment(session, task=task, unit=other, period="x", due_date=date(2025, 12, 31))
    session.commit()
    scan_deadlines(session, now=NOW, settings=get_settings())
    session.commit()

    digests = session.exec(select(OutboxEvent).where(OutboxEvent.type == "notice.digest")).all()
    kinds = sorted((d.payload["data"]["item_type"], d.payload["data"]["stage"]) for d in digests)
    assert kinds == [
        ("assignment.due_soon", "7wd"),
        ("assignment.escalated", "L1"),
        ("assignment.escalated", "L2"),
        ("assignment.overdue", "due"),
        ("report.missing", "report-2025-12"),
    ]
    office = as_role("office")
    for d in digests:
        data = d.payload["data"]
        link = urlsplit(data["link"])
        assert link.path == "/app/assignments"
        query = parse_qs(link.query)
        assert query["unit_id"] == [str(unit.id)]
        r = client.get("/api/v1/assignments", params={**query, "limit": 500}, headers=office)
        assert r.status_code == 200, (data["link"], r.text)
        listed = sorted(i["id"] for i in r.json()["items"])
        assert listed == sorted(data["assignment_ids"]), (data["item_type"], data["stage"], data["link"])
