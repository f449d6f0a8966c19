"""CPU per write request, in-process: the app called as raw ASGI (no sockets, no client).

On a copy of the county database (`bench_county`; each 签收 uses up one `assigned` assignment):
the progress operation (签收, then this month's report created submitted) and the create
operation (a task created assigned), one request after another, `time.process_time` around each
batch (the whole process: event loop and threadpool). `--yappi FILE` profiles the measured
requests (pip-install yappi into the venv yourself); `--toggle module:ATTR` switches a boolean
between rounds, for an A/B of one change in one process.

    .venv/bin/python benchmarks/probe_writes.py --db bench_NAME [--n 300] [--only progress,create]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))
sys.path.insert(0, str(ROOT))


async def call(app: Any, method: str, path: str, token: str, body: Any) -> tuple[int, bytes]:
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"connection", b"keep-alive"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    out: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            out.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--only", default="progress,create")
    parser.add_argument("--toggle", help="module:ATTR, a boolean switched between rounds (A/B)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--yappi", help="profile the measured requests (CPU clock, all threads) into FILE")
    a = parser.parse_args()
    url = f"postgresql://postgres@127.0.0.1:5432/{a.db}"
    env = {
        "DUBAN_DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg://"),
        "DUBAN_LOG_LEVEL": "WARNING",
        "DUBAN_ENVIRONMENT": "test",
        "DUBAN_SECRET_KEY": secrets.token_hex(32),
        "DUBAN_ACCESS_TOKEN_MINUTES": "240",
    }
    os.environ.update(env)
    from benchmarks.run import Data

    d = Data(url, env)
    # A few units' assignments only, so that the warm-up caches their heads' principals (as a
    # server's workers have them cached in a run of the suite).
    units = sorted({u for _, u in d.assigned})[:: max(1, len({u for _, u in d.assigned}) // 30)][:30]
    d.assigned = [(aid, u) for aid, u in d.assigned if u in units]
    d.units = units
    from api.main import create_app

    app = create_app()
    # Called without its lifespan: these routes need none.
    only = a.only.split(",")
    import importlib

    toggle = None
    if a.toggle:
        module, attr = a.toggle.split(":")
        toggle = (importlib.import_module(module), attr)
    batches: list[tuple[str, int, bool | None]] = [("warm-up", 30, None)]
    for _ in range(a.rounds):
        batches += (
            [("measured", a.n, True), ("measured", a.n, False)] if toggle else [("measured", a.n, None)]
        )
    for kind in only:
        for phase, n, switch in batches:
            if toggle is not None and switch is not None:
                setattr(toggle[0], toggle[1], switch)
            statuses: dict[int, int] = {}
            if a.yappi and phase == "measured":
                import yappi

                yappi.set_clock_type("cpu")
                yappi.start(builtins=False, profile_threads=True)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(n):
                if kind == "progress":
                    aid, unit = d.next_assigned()
                    token = d.head[unit][1]
                    st, _ = await call(app, "POST", f"/api/v1/assignments/{aid}/accept", token, {})
                    statuses[st] = statuses.get(st, 0) + 1
                    body = {"text": "按计划推进，已完成阶段工作。", "percent_done": 30, "submit": True}
                    st, _ = await call(app, "POST", f"/api/v1/assignments/{aid}/reports", token, body)
                else:
                    plan_id = d.plans[i % len(d.plans)]
                    unit = d.units[i % len(d.units)]
                    body = {
                        "plan_id": plan_id,
                        "section_id": d.sections.get(plan_id),
                        "code": f"P{secrets.token_hex(3)}{i}",
                        "title": "基准任务：推进重点项目建设，完成年度目标",
                        "due_date": (date.today() + timedelta(days=60)).isoformat(),
                        "units": [{"role": "lead", "unit_id": unit}],
                        "assign": True,
                    }
                    st, _ = await call(app, "POST", "/api/v1/tasks", d.office, body)
                statuses[st] = statuses.get(st, 0) + 1
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            if a.yappi and phase == "measured":
                yappi.stop()
                yappi.get_func_stats().save(f"{a.yappi}.{kind}", type="pstat")
                yappi.clear_stats()
            if phase == "measured":
                print(
                    f"{kind} {'' if switch is None else switch}: {n} ops, CPU {cpu / n * 1000:.2f} ms/op, wall {wall / n * 1000:.2f} ms/op, "
                    f"statuses {statuses}"
                )


if __name__ == "__main__":
    asyncio.run(main())
