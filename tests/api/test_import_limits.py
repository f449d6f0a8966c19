"""The plan import refuses an oversized workbook within seconds, in Chinese, as 413 — never a 500."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.api.conftest import AsRole
from tests.language import english_words
from tests.plandoc.test_limits import huge_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_400k_row_workbook_is_refused_within_5_s(client: TestClient, as_role: AsRole) -> None:
    data = huge_workbook()
    office = as_role("office")
    start = time.process_time()  # CPU spent, whatever else loads the machine
    r = client.post(
        "/api/v1/plans/import?dry_run=true", files={"file": ("任务分解表.xlsx", data, XLSX)}, headers=office
    )
    elapsed = time.process_time() - start
    assert r.status_code == 413, r.text[:300]
    err = r.json()["error"]
    assert err["code"] == "import.document_too_large"
    assert "20000 行" in err["message"] and english_words(err["message"]) == []
    assert elapsed < 5, elapsed
