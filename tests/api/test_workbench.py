"""Serving the workbench: history routing, the CSP, static files (gzip, ETag), offline API docs,
the vendored libraries, and the client's module graph (every import resolves to a shipped file)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.workbench.router import STATIC
from tests.api.conftest import AsRole
from tests.api.sv_fixture import build

JS = STATIC / "js"


def test_root_leads_to_the_workbench(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/app"


@pytest.mark.parametrize(
    "path", ["/app", "/app/", "/app/tasks", "/app/assignments/123", "/app/no/such/screen"]
)
def test_every_app_path_serves_the_single_page(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app/static/js/main.js">' in r.text
    assert r.headers["cache-control"] == "no-cache"
    assert client.head(path).status_code == 200


def test_csp_allows_only_own_files_and_the_import_map(client: TestClient) -> None:
    r = client.get("/app/tasks")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    import_map = re.search(r'<script type="importmap">(.*?)</script>', r.text, re.S)
    assert import_map is not None
    digest = base64.b64encode(hashlib.sha256(import_map.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    # Nothing in the page or the client comes from another origin (an offline intranet works).
    for f in [STATIC / "index.html", STATIC / "app.css", *JS.rglob("*.js")]:
        assert not re.search(r"https?://", f.read_text(encoding="utf-8")), f


def test_static_files_gzip_etag_and_no_traversal(client: TestClient) -> None:
    r = client.get("/app/static/js/main.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Accept-Encoding"
    assert r.text == (JS / "main.js").read_text(encoding="utf-8")  # httpx decodes the body
    etag = r.headers["etag"]
    again = client.get("/app/static/js/main.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    plain = client.get("/app/static/app.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["content-type"].startswith("text/css")
    assert "APIRouter" not in client.get("/app/static/../router.py").text  # normalised: just the page
    for bad in ["/app/static/%2e%2e/router.py", "/app/static/..%2frouter.py", "/app/static/nope.js"]:
        miss = client.get(bad)
        assert miss.status_code == 404, bad
        assert miss.json()["error"]["message"] == "文件不存在"


def test_vendored_libraries_are_pinned_with_their_licences() -> None:
    vendor = STATIC / "vendor"
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    assert "10.29.8" in readme and "3.1.1" in readme
    for name in ("preact.module.js", "hooks.module.js", "htm.module.js", "LICENSE-preact", "LICENSE-htm"):
        assert (vendor / name).stat().st_size > 500, name
    assert 'from"preact"' in (vendor / "hooks.module.js").read_text().replace(" ", "")


def _imports(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = re.findall(r'^(?:import|export)\b[^;]*?from\s*"([^"]+)"', text, re.M)
    found += re.findall(r'^import\s*"([^"]+)"', text, re.M)
    found += re.findall(r'import\(\s*"([^"]+)"\s*\)', text)
    return found


def test_the_client_module_graph_resolves() -> None:
    """Every static import names a shipped file or an import-map entry; every route's screen exists."""
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    match = re.search(r'<script type="importmap">(.*?)</script>', index, re.S)
    assert match is not None
    mapped = json.loads(match.group(1))["imports"]
    for target in mapped.values():
        assert (STATIC / target.removeprefix("/app/static/")).is_file(), target
    for module in JS.rglob("*.js"):
        for spec in _imports(module):
            if spec in mapped:
                continue
            assert spec.startswith("."), (module.name, spec)
            assert (module.parent / spec).resolve().is_file(), (module.name, spec)
    main = (JS / "main.js").read_text(encoding="utf-8")
    screens = set(re.findall(r'\[/\^.*?/, "([a-z-]+)"', main))
    assert {"login", "tasks", "assignment", "inbox", "breakdown", "review", "intake", "overview"} <= screens
    for name in screens:
        assert (JS / "screens" / f"{name}.js").is_file(), name


def test_offline_api_docs_load_nothing_from_a_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, path
        assert all(a.startswith("/") for a in assets), (path, assets)
        assert "fonts.googleapis" not in html
        for a in assets:
            if a.endswith(".js") or a.endswith(".css"):
                r = client.get(a)
                assert r.status_code == 200 and len(r.content) > 10_000, a


def test_static_compresses_to_a_small_first_page() -> None:
    """The first page's JS and CSS (shell, libraries, one screen) stay small once compressed."""
    first = [
        STATIC / "app.css",
        *(STATIC / "vendor").glob("*.module.js"),
        JS / "main.js",
        JS / "lib.js",
        JS / "api.js",
        JS / "nav.js",
        JS / "screens" / "tasks.js",
    ]
    total = sum(len(gzip.compress(f.read_bytes(), 9)) for f in first)
    assert total < 60_000, total


def test_assignments_carry_working_days_left(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    items = client.get(
        "/api/v1/assignments", params={"plan_id": f.plan.id, "limit": 500}, headers=as_role("office")
    ).json()["items"]
    assert items
    # Monday 2025-12-01 09:00 local → Wednesday 2025-12-31: the working days Dec 2…31, no holidays.
    due_year_end = [a for a in items if a["due_date"] == "2025-12-31" and a["working_days_left"] is not None]
    assert due_year_end and {a["working_days_left"] for a in due_year_end} == {22}
    for a in items:
        if a["overdue"] or a["state"] in ("completed", "cancelled") or a["due_date"] is None:
            assert a["working_days_left"] is None, a
        else:
            assert isinstance(a["working_days_left"], int) and a["working_days_left"] >= 0, a
            assert date.fromisoformat(a["due_date"]) >= date(2025, 12, 1)


def test_json_responses_are_gzipped_above_a_minimum(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    from tests.factories import make_unit

    for n in range(40):
        make_unit(session, name=f"压缩测试单位{n}")
    session.commit()
    office = as_role("office")
    big = client.get("/api/v1/units", params={"limit": 100}, headers={**office, "Accept-Encoding": "gzip"})
    assert big.status_code == 200 and big.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in big.headers["vary"].lower()
    assert len(big.json()["items"]) >= 40  # httpx decodes it
    raw = client.get(
        "/api/v1/units", params={"limit": 100}, headers={**office, "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in raw.headers and raw.json() == big.json()
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers  # under the minimum: not worth it
    # The workbench's files are compressed once (by the workbench), never twice.
    page = client.get("/app/static/js/main.js", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert page.text == (JS / "main.js").read_text(encoding="utf-8")
