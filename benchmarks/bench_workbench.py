"""Workbench page weight and time to interactive of 我的待办 loaded with 200 assignments.

    .venv/bin/python benchmarks/bench_workbench.py [--assignments 200] [--repeat 5] [--json PATH]

Creates a throwaway SQLite database, migrates it, imports a 200-task plan (interchange JSON) whose
every task is led by one unit, signs that unit's head in, and opens /app/tasks in headless
Chromium against a real uvicorn on a loopback port:

- page weight: the JS and CSS the page transferred (compressed, as served with gzip), from the
  browser's resource timing (encodedBodySize), plus the whole client's JS+CSS gzip size for scale;
- time to interactive: navigation start → the 200-row table rendered and the main thread idle
  (two animation frames after the screen's `duban:tasks-ready` mark), cold (new browser context,
  empty cache) and warm (reload with a primed cache; files revalidate with 304s). Median of N.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DUBAN_LOG_LEVEL", "WARNING")  # the access log would drown the figures

from tests.factories import make_unit, make_user  # noqa: E402

from api.main import create_app  # noqa: E402
from api.workbench.router import STATIC  # noqa: E402
from duban import migrate  # noqa: E402
from duban.clock import FixedClock  # noqa: E402
from duban.db import make_engine, session_scope  # noqa: E402
from duban.models import UnitKind  # noqa: E402

NOW = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
PASSWORD = "Bench-Passw0rd"


def plan_json(n: int) -> dict[str, Any]:
    per = max(1, n // 5)
    sections = []
    for s in range(5):
        tasks = [
            {
                "code": str(s * per + t + 1),
                "title": f"基准任务{s * per + t + 1}：推进重点项目建设",
                "lead_units": ["县科技局"],
                "due": f"2026-{1 + (s * per + t) % 12:02d}-28",
            }
            for t in range(per if s < 4 else n - 4 * per)
        ]
        sections.append({"code": "一二三四五"[s], "title": f"重点任务{s + 1}", "tasks": tasks})
    return {
        "plan": {"title": "基准测试行动计划", "period": {"start": "2024-01-01", "end": "2026-12-31"}},
        "sections": sections,
    }


def build(url: str, n: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        unit = make_unit(session, name="县科技局", kind=UnitKind.department)
        make_user(session, username="bench_head", roles=["unit_head"], unit_id=unit.id, password=PASSWORD)
        make_user(session, username="bench_office", roles=["office"], password=PASSWORD)
        session.commit()
    app = create_app()
    app.state.session_factory = lambda: session_scope(engine)
    app.state.clock = FixedClock(NOW)
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/token", data={"username": "bench_office", "password": PASSWORD})
        headers = {"Authorization": "Bearer " + token.json()["access_token"]}
        r = client.post(
            "/api/v1/plans/import", json=plan_json(n), params={"publish": "true"}, headers=headers
        )
        assert r.status_code == 201, r.text
        assert r.json()["assignments"] == n, r.json()
    engine.dispose()


def serve(url: str) -> tuple[uvicorn.Server, threading.Thread, str]:
    engine = make_engine(url)
    app = create_app()

    def factory() -> AbstractContextManager[Session]:
        return session_scope(engine)

    app.state.session_factory = factory
    app.state.clock = FixedClock(NOW)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


MEASURE = """async () => {
  await new Promise((ok) => { const t = () => performance.getEntriesByName('duban:tasks-ready').length ? ok() : setTimeout(t, 5); t(); });
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const kind = (r) => r.name.endsWith('.css') ? 'css' : r.name.endsWith('.js') ? 'js' : r.initiatorType === 'fetch' ? 'api' : 'other';
  const sum = (k, f) => res.filter((r) => kind(r) === k).reduce((a, r) => a + r[f], 0);
  return {
    tti_ms: performance.now(),
    ready_ms: performance.getEntriesByName('duban:tasks-ready')[0].startTime,
    rows: document.querySelectorAll('#tasks-table tbody tr').length,
    html_bytes: nav.encodedBodySize,
    js_bytes: sum('js', 'encodedBodySize'), css_bytes: sum('css', 'encodedBodySize'),
    js_files: res.filter((r) => kind(r) === 'js').length,
    api_bytes: sum('api', 'encodedBodySize'), api_calls: res.filter((r) => kind(r) === 'api').length,
  };
}"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assignments", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} missing: install chromium (scripts/test.sh does)")
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t0 = time.perf_counter()
        build(url, args.assignments)
        print(f"built {args.assignments} assignments in {time.perf_counter() - t0:.1f}s")
        server, thread, base = serve(url)
        cold: list[dict[str, Any]] = []
        warm: list[dict[str, Any]] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                login = browser.new_context()
                page = login.new_page()
                page.goto(base + "/app/login")
                page.fill("#username", "bench_head")
                page.fill("#password", PASSWORD)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("#tasks-table")
                state = login.storage_state()
                login.close()
                for _ in range(args.repeat):
                    ctx = browser.new_context(storage_state=state, viewport={"width": 1280, "height": 900})
                    page = ctx.new_page()
                    page.goto(base + "/app/tasks?tab=all")
                    cold.append(page.evaluate(MEASURE))
                    page.reload()
                    warm.append(page.evaluate(MEASURE))
                    ctx.close()
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    every = [*STATIC.glob("*.css"), *STATIC.rglob("*.js")]
    whole = sum(len(gzip.compress(f.read_bytes(), 9)) for f in every)
    raw = sum(f.stat().st_size for f in every)
    med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
    out = {
        "assignments": args.assignments,
        "rows_rendered": cold[0]["rows"],
        "first_page_js_gzip_bytes": cold[0]["js_bytes"],
        "first_page_css_gzip_bytes": cold[0]["css_bytes"],
        "first_page_js_files": cold[0]["js_files"],
        "html_bytes": cold[0]["html_bytes"],
        "api_calls": cold[0]["api_calls"],
        "api_json_bytes": cold[0]["api_bytes"],
        "whole_client_js_css_gzip_bytes": whole,
        "whole_client_js_css_raw_bytes": raw,
        "tti_cold_ms_median": round(med(cold, "tti_ms")),
        "tti_warm_ms_median": round(med(warm, "tti_ms")),
        "tti_cold_ms_all": [round(r["tti_ms"]) for r in cold],
        "tti_warm_ms_all": [round(r["tti_ms"]) for r in warm],
    }
    assert out["rows_rendered"] == args.assignments, out
    for k, v in out.items():
        print(f"{k:34} {v}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
