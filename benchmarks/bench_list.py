"""List endpoint throughput vs a bare psycopg + orjson server, on PostgreSQL, with wrk.

    make bench            (or: .venv/bin/python benchmarks/bench_list.py [--rows N] [--seconds S])

Creates a throwaway database, loads it, starts `duban api` and the baseline on loopback ports,
drives both with wrk (same page size, same concurrency) and prints requests per second.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

from benchmarks.harness import free_port, wait_http  # noqa: E402

ADMIN_URL = os.environ.get("DUBAN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def wrk(url: str, seconds: int, headers: dict[str, str]) -> float:
    args = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    print(f"    {url.split('?')[0]}: {m.group(1) if m else '?'} req/s, p99 {p99.group(1) if p99 else '?'}")
    return float(m.group(1)) if m else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000, help="assignments to load")
    parser.add_argument("--page", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--endpoint", choices=["assignments", "detail", "units"], default="assignments")
    parser.add_argument(
        "--as",
        dest="role",
        choices=["unit_staff", "office"],
        default="unit_staff",
        help="unit_staff: a unit's open assignments (issue 14's workload); office: every unit's",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is required (apt-get install wrk)", file=sys.stderr)
        return 2

    db = f"duban_bench_{uuid.uuid4().hex[:8]}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    with psycopg.connect(ADMIN_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env = {
            **os.environ,
            "DUBAN_DATABASE_URL": url,
            "DUBAN_LOG_LEVEL": "WARNING",
            "DUBAN_ENVIRONMENT": "test",
        }
        subprocess.run([str(BIN / "duban"), "db", "upgrade"], env=env, check=True, capture_output=True)
        load(url, args.rows)
        subprocess.run(
            [
                str(BIN / "duban"),
                "user",
                "create",
                "--username",
                "bench",
                "--password",
                "bench-pass-1",
                "--role",
                args.role,
                *(["--unit", "单位1"] if args.role == "unit_staff" else []),
            ],
            env=env,
            check=True,
            capture_output=True,
        )

        api_port, base_port = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [str(BIN / "duban"), "api", "--port", str(api_port), "--no-access-log"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        path, query, sqls = duban_sql(url, args.endpoint, args.role, args.page)
        # The list: the very SQL Duban runs, at "/"; the detail: the baseline's own two queries.
        base_path = "/" if sqls else f"/detail?id={path.rsplit('/', 1)[1]}"
        benv = {
            **os.environ,
            "BASELINE_DSN": url,
            "BASELINE_SQL": "\n;\n".join(sqls),
            "PYTHONPATH": str(ROOT),
        }
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "uvicorn"),
                    "benchmarks.baseline_app:app",
                    "--port",
                    str(base_port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                env=benv,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        api = f"http://127.0.0.1:{api_port}"
        wait_http(api + "/healthz")
        wait_http(f"http://127.0.0.1:{base_port}/")
        token = httpx.post(
            api + "/api/v1/auth/token", data={"username": "bench", "password": "bench-pass-1"}
        ).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        print(
            f"{args.rows} assignments, {path}{query} as {args.role}, wrk -t2 -c16 -d{args.seconds}s, "
            f"one worker each; load average before: {os.getloadavg()[0]:.1f}"
        )
        wrk(f"{api}{path}{query}", 2, auth)  # warm-up
        base = wrk(f"http://127.0.0.1:{base_port}{base_path}", args.seconds, {})
        ours = wrk(f"{api}{path}{query}", args.seconds, auth)
        print(f"  ratio {path} / bare psycopg+orjson = {ours / base:.2f} (bar: >= 0.50)")
        print(f"  load average after: {os.getloadavg()[0]:.1f}")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        with psycopg.connect(ADMIN_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return 0


OPEN = ("assigned", "accepted", "completion_requested", "returned")


def duban_sql(url: str, endpoint: str, role: str, page: int) -> tuple[str, str, list[str]]:
    """The path and query string Duban is asked and, for lists, the very SQL it runs for them
    (compiled from its own statement builders, literal values inlined) for the baseline to run."""
    sys.path[:0] = [str(ROOT / "services")]
    from datetime import UTC, datetime

    from sqlalchemy.dialects import postgresql

    from api.assignment import service
    from api.pagination import page_statement
    from duban.models import User

    with psycopg.connect(url) as c:
        unit_id = c.execute("SELECT id FROM unit WHERE name = '单位1'").fetchone()[0]  # type: ignore[index]
        first = c.execute("SELECT min(id) FROM assignment WHERE unit_id = %s", (unit_id,)).fetchone()[0]  # type: ignore[index]
    user = User(id=1, username="bench", roles=[role], unit_id=unit_id if role == "unit_staff" else None)

    def compiled(stmt: Any) -> str:
        return str(stmt.compile(dialect=postgresql.psycopg.dialect(), compile_kwargs={"literal_binds": True}))

    if endpoint == "units":
        sql = (
            "SELECT id, name, short_name, kind, parent_id, code, contact_email, is_active, external_id, version, "
            f"created_at, updated_at FROM unit ORDER BY id LIMIT {page}"
        )
        return "/api/v1/units", f"?limit={page}", [sql]
    if endpoint == "detail":
        return f"/api/v1/assignments/{first}", "", []
    stmt = service.apply_filters(service.list_statement(user), now=datetime.now(UTC), state=OPEN)
    stmt = page_statement(stmt, order=service.SORTS["due_date"], limit=page, cursor=None)
    query = f"?limit={page}" + "".join(f"&state={s}" for s in OPEN)
    return "/api/v1/assignments", query, [compiled(stmt)]


def load(url: str, rows: int) -> None:
    """Bulk-load units, a plan, tasks and assignments with set-based SQL."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("""
            INSERT INTO unit (name, kind, is_active, version, created_at, updated_at)
            SELECT '单位' || g, CASE WHEN g % 3 = 0 THEN 'town' ELSE 'department' END, true, 1, now(), now()
            FROM generate_series(1, 200) g;
            INSERT INTO plan (title, timezone, report_cadence, report_due_day, version, created_at, updated_at)
            VALUES ('基准计划', 'Asia/Shanghai', 'monthly', 25, 1, now(), now());
            INSERT INTO task (plan_id, code, title, tags, position, version, created_at, updated_at)
            SELECT 1, g::text, '任务' || g, '[]', g, 1, now(), now() FROM generate_series(1, 100) g;
        """)
        c.execute(
            """
            INSERT INTO assignment (plan_id, task_id, unit_id, role, period, state, due_date, due_at, assigned_at,
                                    percent_done, extension_count, version, created_at, updated_at)
            SELECT 1, 1 + (g %% 100), 1 + (g / 100) %% 200, 'lead', (g / 20000)::text,
                   (ARRAY['assigned','accepted','completion_requested','completed'])[1 + g %% 4],
                   date '2025-01-01' + (g %% 365), timestamptz '2025-01-01 16:00+00' + (g %% 365) * interval '1 day',
                   now(), g %% 100, 0, 1, now(), now()
            FROM generate_series(0, %s - 1) g
        """,
            (rows,),
        )
        c.execute("ANALYZE")


if __name__ == "__main__":
    sys.exit(main())
