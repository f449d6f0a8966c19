"""Targets, baselines and reported figures are bounded (±10^15): beyond that, a difference or a
trend overflows to ∞/NaN, which JSON cannot carry, and one such row made every indicator list 500."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from duban import amounts
from duban.models import IndicatorValue
from tests.api.conftest import AsRole
from tests.factories import make_indicator, make_plan
from tests.language import english_words


def _refused(r: object, field: str) -> None:
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    details = r.json()["error"]["details"]  # type: ignore[attr-defined]
    assert any(d["field"].endswith(field) for d in details), details
    assert all(english_words(d["message"]) == [] for d in details)


@pytest.mark.parametrize("huge", [1e308, -1e308, 1.0000001e15, 2.0**63])
def test_huge_values_are_refused_in_chinese(
    client: TestClient, as_role: AsRole, session: Session, huge: float
) -> None:
    office = as_role("office")
    plan = make_plan(session)
    session.commit()
    body = {"plan_id": plan.id, "name": "研发投入", "target_value": huge}
    _refused(client.post("/api/v1/indicators", json=body, headers=office), "target_value")
    body = {"plan_id": plan.id, "name": "研发投入", "target_value": 1, "baseline_value": huge}
    _refused(client.post("/api/v1/indicators", json=body, headers=office), "baseline_value")
    at_bound = {"plan_id": plan.id, "name": "研发投入", "target_value": 1e15}
    ok = client.post("/api/v1/indicators", json=at_bound, headers=office)
    assert ok.status_code == 201, ok.text
    value = {"period": "2025", "value": huge}
    _refused(client.post(f"/api/v1/indicators/{ok.json()['id']}/values", json=value, headers=office), "value")
    # The interchange JSON import is bounded the same way.
    doc = {"plan": {"title": "某计划"}, "indicators": [{"name": "x", "target": huge}], "sections": []}
    r = client.post(
        "/api/v1/plans/import",
        params={"dry_run": "true"},
        content=json.dumps(doc),
        headers={**office, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "import.invalid_document", r.text


def test_rows_stored_before_the_bound_do_not_break_the_lists(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    office = as_role("office")
    plan = make_plan(session)
    indicator = make_indicator(session, plan=plan, target_value=0.0, unit="个", due_date=date(2025, 12, 31))
    for year, value in ((2024, 1e308), (2025, -1e308)):
        session.add(
            IndicatorValue(
                indicator_id=indicator.id,
                period=str(year),
                period_end=date(year, 12, 31),
                value=value,
                reported_at=datetime(2025, 12, 1, tzinfo=UTC),
            )
        )
    session.commit()
    listed = client.get("/api/v1/indicators", params={"plan_id": plan.id}, headers=office)
    assert listed.status_code == 200, listed.text
    one = client.get(f"/api/v1/indicators/{indicator.id}", headers=office)
    assert one.status_code == 200, one.text
    assert one.json()["status"]["forecast"] is None  # the trend overflowed: no forecast, not NaN


def test_a_huge_count_is_written_whole() -> None:
    assert amounts.number(1e300, "个") == str(int(1e300))
    assert amounts.whole(48.5) == 49
