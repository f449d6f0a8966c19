"""Every message a person reads is Chinese: business errors, field errors, illegal transitions."""

from __future__ import annotations

import ast
import typing
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic_core.core_schema import ErrorType
from sqlmodel import Session

from api.errors import _VALIDATION_MESSAGES, validation_message
from duban import labels
from duban.errors import IllegalTransition
from duban.models import AssignmentState, ProgressReportState, RequestState
from tests.api.conftest import AsRole
from tests.factories import make_assignment, make_plan, make_task, make_unit
from tests.language import english_words

SERVICES = Path(__file__).resolve().parents[2] / "services"
_ROOTS = {"DubanError"}
# Helpers that put their argument into an error envelope as the message: name → argument index.
_FORWARDERS = {"_error": 1, "error_response": 2, "_flush": 2}


def _error_classes(trees: list[ast.Module]) -> set[str]:
    """DubanError and every subclass declared anywhere in services/ (to a fixpoint)."""
    names = set(_ROOTS)
    while True:
        found = {
            node.name
            for tree in trees
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(getattr(b, "id", getattr(b, "attr", None)) in names for b in node.bases)
        }
        if found <= names:
            return names
        names |= found


def _literal_parts(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def test_every_error_message_in_the_code_is_chinese() -> None:
    files = sorted(SERVICES.rglob("*.py"))
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in files]
    classes = _error_classes(trees)
    assert {"Unprocessable", "IllegalTransition", "UnsupportedMediaType", "UnsafeUrl"} <= classes
    checked, bad = 0, []
    for path, tree in zip(files, trees, strict=True):
        for node in ast.walk(tree):
            texts: list[ast.expr] = []
            if isinstance(node, ast.Call):
                func = node.func
                name = getattr(func, "id", getattr(func, "attr", None))
                if name in classes:
                    texts = node.args[:1] + [k.value for k in node.keywords if k.arg == "message"]
                elif name in _FORWARDERS and len(node.args) > _FORWARDERS[name]:
                    texts = [node.args[_FORWARDERS[name]]]
            elif isinstance(node, ast.ClassDef) and node.name in classes:
                texts = [
                    s.value
                    for s in node.body
                    if isinstance(s, ast.Assign)
                    and any(getattr(t, "id", None) == "message" for t in s.targets)
                ]
            for text in texts:
                literal = _literal_parts(text)
                if literal is None:
                    continue  # a forwarded variable: its literal is checked where it is written
                checked += 1
                if english_words(literal):
                    bad.append(f"{path.relative_to(SERVICES)}:{text.lineno}: {literal}")
    assert checked > 150, checked  # the walk really found the raise sites
    assert bad == [], "\n".join(bad)


def _sample_ctx() -> dict[str, Any]:
    return {
        "gt": 0,
        "ge": 1,
        "lt": 10,
        "le": 100.0,
        "multiple_of": 0.5,
        "min_length": 1,
        "max_length": 50,
        "actual_length": 0,
        "field_type": "List",
        "pattern": "^a",
        "expected": "'a' or 'b'",
        "error": "month value is outside expected range of 1-12",
        "max_digits": 5,
        "decimal_places": 2,
        "whole_digits": 3,
    }


def test_every_pydantic_error_type_has_a_chinese_sentence() -> None:
    every = set(typing.get_args(ErrorType))
    assert len(every) > 100
    assert every - set(_VALIDATION_MESSAGES) == set(), "new pydantic error types to translate"
    for kind in every:
        text = validation_message({"type": kind, "ctx": _sample_ctx(), "msg": "Input should be x"})
        assert text and not english_words(text), (kind, text)
    # The numbers come from ctx, written as people write them.
    assert validation_message({"type": "less_than_equal", "ctx": {"le": 100.0}}) == "不能大于100"
    assert validation_message({"type": "greater_than_equal", "ctx": {"ge": 1}}) == "不能小于1"
    assert validation_message({"type": "string_too_long", "ctx": {"max_length": 50}}) == "最多50个字符"
    # Unknown types and a validator's English reason fall back to a generic Chinese sentence.
    assert validation_message({"type": "brand_new_type", "msg": "Something odd"}) == "取值不合法"
    english = {"type": "value_error", "ctx": {"error": ValueError("bad thing")}}
    assert validation_message(english) == "取值不合法"
    own = {"type": "value_error", "ctx": {"error": ValueError("标签须为1到50个字符")}}
    assert validation_message(own) == "标签须为1到50个字符"


def test_field_errors_over_http_are_chinese_with_type_and_loc(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    unit = make_unit(session)
    assignment = make_assignment(
        session, task=make_task(session, plan=make_plan(session)), unit=unit, state=AssignmentState.accepted
    )
    session.commit()
    staff = as_role("unit_staff", unit=unit)
    r = client.post(
        f"/api/v1/assignments/{assignment.id}/reports",
        json={"period": "2025-11", "percent_done": 101},
        headers=staff,
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and err["message"] == "请求内容不合法"
    [detail] = err["details"]
    assert detail == {
        "field": "body.percent_done",
        "loc": ["body", "percent_done"],
        "message": "不能大于100",
        "type": "less_than_equal",
        "ctx": {"le": 100},
    }
    missing = client.post("/api/v1/units", json={"kind": "department"}, headers=as_role("admin"))
    assert missing.status_code == 422, missing.text
    assert [(d["loc"], d["message"]) for d in missing.json()["error"]["details"]] == [
        (["body", "name"], "缺少必填项")
    ]
    query = client.get("/api/v1/assignments?limit=0", headers=staff).json()["error"]
    assert query["details"][0]["message"] == "不能小于1" and query["details"][0]["loc"] == ["query", "limit"]
    raw = client.post(
        f"/api/v1/assignments/{assignment.id}/reports",
        content=b"{",
        headers={**staff, "Content-Type": "application/json"},
    ).json()["error"]
    assert raw["details"][0]["message"] == "请求体不是合法的 JSON"


def test_illegal_transition_names_states_and_actions_as_people_say_them(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    unit = make_unit(session)
    plan = make_plan(session)
    accepted = make_assignment(
        session, task=make_task(session, plan=plan), unit=unit, state=AssignmentState.accepted
    )
    session.commit()
    r = client.post(f"/api/v1/assignments/{accepted.id}/approve", headers=as_role("office"))
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["message"] == "交办事项当前为“已签收”，不能“审核通过”；可执行的操作：撤销、申请办结"
    assert err["details"] == {
        "action": "approve",
        "state": "accepted",
        "allowed": ["cancel", "request-completion"],
    }


def test_every_state_and_action_has_a_label() -> None:
    from api.assignment.service import ACTIONS
    from api.report.service import TRANSITIONS

    for entity, states, actions in (
        ("assignment", AssignmentState, ACTIONS),
        ("report", ProgressReportState, TRANSITIONS),
        ("extension", RequestState, ("approve", "reject")),
    ):
        for s in states:
            assert not english_words(labels.state(entity, s)), (entity, s)
        for a in actions:
            assert not english_words(labels.action(entity, a)), (entity, a)
    assert labels.state("assignment", "completion_requested") == "申请办结"
    assert labels.state("report", "approved") == "审核通过"
    message = IllegalTransition(action="submit", state="approved", allowed=[], entity="report").message
    assert message == "进展报告当前为“审核通过”，不能“提交”；可执行的操作：无"
    ext = IllegalTransition(action="approve", state="rejected", allowed=[], entity="extension").message
    assert ext == "延期申请当前为“已驳回”，不能“批准”；可执行的操作：无"


def test_every_event_type_has_a_chinese_name() -> None:
    from duban.events import EVENT_TYPES

    assert set(EVENT_TYPES) - set(labels.NOTIFICATION_KINDS) == set()
    assert labels.quoted("着力打造“涟-溧科创飞地”") == "“着力打造‘涟-溧科创飞地’”"
    assert labels.date_text("2025-12-31") == "2025年12月31日"
