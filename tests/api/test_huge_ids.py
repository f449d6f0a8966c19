"""An id beyond 64 bits in the path is echoed in the 404's details as text: orjson cannot write such
an integer, and the error answer itself used to fail with a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.errors import error_response
from tests.api.conftest import AsRole


@pytest.mark.parametrize("action", ["accept", "return", "request-completion"])
def test_unit_actions_on_an_id_beyond_64_bits(client: TestClient, as_role: AsRole, action: str) -> None:
    huge = "9" * 400
    r = client.post(f"/api/v1/assignments/{huge}/{action}", headers=as_role("unit_head"))
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["code"] in ("assignment.not_found", "validation_error")


def test_the_envelope_writes_any_integer() -> None:
    r = error_response(404, "x.not_found", "不存在", {"id": 10**30, "ids": [2**64, 1], "ok": True})
    assert (
        r.body
        == (
            '{"error":{"code":"x.not_found","message":"不存在","details":'
            '{"id":"1000000000000000000000000000000","ids":["18446744073709551616",1],"ok":true}}}'
        ).encode()
    )
