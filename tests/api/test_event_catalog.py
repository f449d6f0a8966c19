"""GET /api/v1/events/types and the openapi.json `webhooks`: one catalog, from duban.events."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from duban import events
from duban.migrate import ROOT
from tests.api.conftest import AsRole


def test_catalog_lists_every_type_with_a_versioned_schema(client: TestClient, as_role: AsRole) -> None:
    r = client.get("/api/v1/events/types", headers=as_role("unit_staff"))
    assert r.status_code == 200, r.text
    listed = {e["type"]: e for e in r.json()}
    assert set(listed) == set(events.EVENT_TYPES)
    overdue = listed["assignment.overdue"]
    assert overdue["version"] == 1 and overdue["title"] == "逾期提醒"
    assert overdue["schema_id"] == "urn:duban:event:assignment.overdue:v1" == overdue["schema"]["$id"]
    schema = overdue["schema"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["version"]["const"] == 1
    data = schema["$defs"]["AssignmentOverdue"]
    assert data["additionalProperties"] is False and "recipient" in data["required"]

    one = client.get("/api/v1/events/types/report.missing", headers=as_role("viewer"))
    assert one.status_code == 200 and one.json()["schema"]["$id"].endswith(":v1")
    missing = client.get("/api/v1/events/types/assignment.exploded", headers=as_role("viewer"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "event.unknown_type"
    assert client.get("/api/v1/events/types").status_code == 401


def test_service_accounts_need_a_scope(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("admin")
    keys = {}
    for scopes in (["tasks:read"], ["plans:import"]):
        r = client.post(
            "/api/v1/service-accounts",
            json={"name": scopes[0].replace(":", "_"), "scopes": scopes},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        keys[scopes[0]] = r.json()["api_key"]
    assert client.get("/api/v1/events/types", headers={"X-API-Key": keys["tasks:read"]}).status_code == 200
    forbidden = client.get("/api/v1/events/types", headers={"X-API-Key": keys["plans:import"]})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["message"]


def test_openapi_webhooks_are_the_catalog() -> None:
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text("utf-8"))
    assert set(spec["webhooks"]) == set(events.EVENT_TYPES)
    for event_type in events.EVENT_TYPES:
        op = spec["webhooks"][event_type]["post"]
        assert events.schema_id(event_type) in op["description"]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        body = spec["components"]["schemas"][ref]
        assert body["properties"]["version"]["const"] == events.model_for(event_type).schema_version
        assert body["$id"] == events.schema_id(event_type)
