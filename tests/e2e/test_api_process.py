from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import ApiProcess, duban, duban_env

pytestmark = pytest.mark.e2e


def test_cli_user_logs_in_to_the_served_api(api_process: ApiProcess, committed_url: str) -> None:
    env = duban_env(committed_url)
    out = duban(env, "user", "ensure-admin").stdout
    password = out.split("password ")[1].split()[0]
    # The CLI creates users only in units that exist (as the API does): the admin adds it first.
    with httpx.Client(base_url=api_process.url, timeout=10) as client:
        token = client.post("/api/v1/auth/token", data={"username": "admin", "password": password}).json()
        made = client.post(
            "/api/v1/units",
            json={"name": "县科技局", "kind": "department"},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert made.status_code == 201, made.text
    duban(
        env,
        "user",
        "create",
        "--username",
        "kjj",
        "--password",
        "kjj-password-1",
        "--role",
        "unit_head",
        "--unit",
        "县科技局",
    )

    with httpx.Client(base_url=api_process.url, timeout=10) as client:
        assert "swagger-ui" in client.get("/docs").text
        token = client.post("/api/v1/auth/token", data={"username": "admin", "password": password}).json()
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.status_code == 200 and "admin" in me.json()["roles"]
        unit_token = client.post(
            "/api/v1/auth/token", data={"username": "kjj", "password": "kjj-password-1"}
        ).json()
        me = client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {unit_token['access_token']}"}
        ).json()
        assert me["roles"] == ["unit_head"] and me["unit_id"] is not None
        assert client.get("/readyz").json() == {"status": "ready"}
    print(f"\ncold start of `duban api` to first /healthz: {api_process.started_in:.2f}s")  # noqa: T201
