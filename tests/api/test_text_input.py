"""Text on the way in: NFC, control and format characters refused with a Chinese 422 naming the
field, names on one line and not blank — for every JSON body, before any route sees it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from duban.clock import FixedClock
from duban.models import Unit
from tests.api.conftest import auth_headers
from tests.factories import make_plan, make_unit, make_user
from tests.language import english_words

REFUSED = [
    "\u0001",
    "\u000b",  # Word's manual line break
    "\u001f",
    "\u007f",
    "\u0085",
    "\u009f",
    "\ufffe",
    "\uffff",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200f",
]


@pytest.fixture
def admin(session: Session, clock: FixedClock) -> dict[str, str]:
    user = make_user(session, roles=["admin", "office"])
    session.commit()
    return auth_headers(user, clock)


def _refused(r: Any, field: str) -> str:
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    [detail] = [d for d in err["details"] if d["field"] == field]
    assert english_words(detail["message"]) == [], detail["message"]
    return str(detail["message"])


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_invisible_characters_refused_in_a_unit_name(
    client: TestClient, session: Session, admin: dict[str, str], char: str
) -> None:
    make_unit(session, name="县科技局")
    session.commit()
    r = client.post("/api/v1/units", json={"name": f"县科技{char}局", "kind": "department"}, headers=admin)
    message = _refused(r, "body.name")
    assert f"U+{ord(char):04X}" in message
    names = session.exec(select(Unit.name).where(col(Unit.name).like("县科技%"))).all()
    assert names == ["县科技局"]


def test_refused_in_nested_fields_and_updates(
    client: TestClient, session: Session, admin: dict[str, str]
) -> None:
    plan = make_plan(session)
    unit = make_unit(session)
    session.commit()
    r = client.post(
        "/api/v1/tasks",
        json={
            "plan_id": plan.id,
            "code": "1",
            "title": "任务",
            "units": [{"role": "co", "label": "各\u200b镇街"}],
        },
        headers=admin,
    )
    assert "U+200B" in _refused(r, "body.units.0.label")
    r = client.patch(f"/api/v1/units/{unit.id}", json={"name": "县\u202e局"}, headers=admin)
    assert "双向文字控制符" in _refused(r, "body.name")
    r = client.patch(f"/api/v1/plans/{plan.id}", json={"title": "计划\u000b标题"}, headers=admin)
    assert "手动换行符" in _refused(r, "body.title")


def test_lone_surrogate_refused(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/units",
        content=b'{"name": "\\ud800", "kind": "department"}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"] == "body.name"


@pytest.mark.parametrize("name", ["   ", "\u3000", "\t", "\n", "县科技局\n", "县\t科技局"])
def test_names_are_one_line_and_not_blank(client: TestClient, admin: dict[str, str], name: str) -> None:
    r = client.post("/api/v1/units", json={"name": name, "kind": "department"}, headers=admin)
    _refused(r, "body.name")
    r = client.post("/api/v1/unit-groups", json={"name": name}, headers=admin)
    _refused(r, "body.name")


def test_multiline_text_keeps_tabs_and_newlines(
    client: TestClient, session: Session, admin: dict[str, str]
) -> None:
    plan = make_plan(session)
    session.commit()
    description = "第一行\n\t第二行\r\n第三行"
    r = client.post(
        "/api/v1/tasks",
        json={"plan_id": plan.id, "code": "1", "title": " 强化项目招引 ", "description": description},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"] == description
    assert r.json()["title"] == "强化项目招引"


def test_text_is_nfc(client: TestClient, admin: dict[str, str]) -> None:
    decomposed = "Cafe\u0301 县局"  # e + combining acute
    r = client.post("/api/v1/units", json={"name": decomposed, "kind": "department"}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Caf\u00e9 县局"
    r = client.post("/api/v1/units", json={"name": "Caf\u00e9 县局", "kind": "department"}, headers=admin)
    assert r.status_code == 409, r.text  # the same name, whichever way it was typed
