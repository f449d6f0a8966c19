from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import AsRole


def test_admin_creates_and_lists_units(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("admin")
    r = client.post("/api/v1/units", json={"name": "县科技局", "kind": "department"}, headers=admin)
    assert r.status_code == 201, r.text
    unit = r.json()
    assert r.headers["etag"] == f'W/"unit-{unit["id"]}-1"'
    r = client.get("/api/v1/units", params={"q": "科技"}, headers=admin)
    assert r.status_code == 200
    assert [u["name"] for u in r.json()["items"]] == ["县科技局"]


def test_duplicate_unit_name_is_409(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("admin")
    assert (
        client.post(
            "/api/v1/units", json={"name": "县财政局", "kind": "department"}, headers=admin
        ).status_code
        == 201
    )
    r = client.post("/api/v1/units", json={"name": "县财政局", "kind": "department"}, headers=admin)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "unit.duplicate"


def test_lost_update_is_412(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("admin")
    unit = client.post("/api/v1/units", json={"name": "县教育局", "kind": "department"}, headers=admin)
    etag = unit.headers["etag"]
    uid = unit.json()["id"]
    ok = client.patch(
        f"/api/v1/units/{uid}", json={"short_name": "教育局"}, headers={**admin, "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = client.patch(
        f"/api/v1/units/{uid}", json={"short_name": "教育"}, headers={**admin, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"


def test_unit_pagination_walks_every_row_once(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("admin")
    for i in range(7):
        client.post("/api/v1/units", json={"name": f"分页镇{i}", "kind": "town"}, headers=admin)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"kind": "town", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/units", params=params, headers=admin).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and len(set(seen)) == 7 and seen == sorted(seen)


def test_non_admin_cannot_create_unit(client: TestClient, as_role: AsRole) -> None:
    r = client.post("/api/v1/units", json={"name": "某局", "kind": "department"}, headers=as_role("office"))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "auth.forbidden"


def test_idempotency_key_replays_first_response(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("admin")
    body = {"name": "县水利局", "kind": "department"}
    first = client.post("/api/v1/units", json=body, headers={**admin, "Idempotency-Key": "k-1"})
    again = client.post("/api/v1/units", json=body, headers={**admin, "Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = client.post(
        "/api/v1/units", json={**body, "name": "县交通局"}, headers={**admin, "Idempotency-Key": "k-1"}
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency.key_reused"
