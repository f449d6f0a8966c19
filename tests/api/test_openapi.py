from __future__ import annotations

from api.openapi import OPENAPI_PATH, render
from tests.api.conftest import openapi_spec


def test_checked_in_openapi_matches_the_app() -> None:
    expected = render(openapi_spec())
    actual = OPENAPI_PATH.read_text(encoding="utf-8") if OPENAPI_PATH.exists() else ""
    assert actual == expected, (
        "openapi/openapi.json is stale: run `duban openapi` (or `make openapi`) and commit it"
    )


def test_outgoing_events_are_documented_as_webhooks() -> None:
    spec = openapi_spec()
    assert "assignment.escalated" in spec["webhooks"]
    assert "bulletin.published" in spec["webhooks"]
