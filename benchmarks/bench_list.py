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
    parser.add_argument("--endpoint", choices=["assignments", "units"], default="assignments")
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
                "office",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        load(url, args.rows)

        api_port, base_port = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [str(BIN / "duban"), "api", "--port", str(api_port), "--no-access-log"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        sql = {
            "assignments": (
                "SELECT a.id, a.task_id, a.unit_id, a.role, a.period, a.state, a.due_date, a.due_at, a.percent_done, "
                "a.updated_at, t.code AS task_code, t.title AS task_title, u.name AS unit_name "
                "FROM assignment a JOIN task t ON t.id = a.task_id JOIN unit u ON u.id = a.unit_id "
                f"ORDER BY a.due_date, a.id LIMIT {args.page}"
            ),
            "units": (
                "SELECT id, name, short_name, kind, parent_id, code, contact_email, is_active, external_id, version, "
                f"created_at, updated_at FROM unit ORDER BY id LIMIT {args.page}"
            ),
        }[args.endpoint]
        benv = {**os.environ, "BASELINE_DSN": url, "BASELINE_SQL": sql, "PYTHONPATH": str(ROOT)}
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
        endpoint = f"/api/v1/{args.endpoint}"
        print(f"{args.rows} assignments, page {args.page}, wrk -t2 -c16 -d{args.seconds}s, one worker each")
        wrk(f"{api}{endpoint}?limit={args.page}", 2, auth)  # warm-up
        base = wrk(f"http://127.0.0.1:{base_port}/", args.seconds, {})
        ours = wrk(f"{api}{endpoint}?limit={args.page}", args.seconds, auth)
        print(f"  ratio {endpoint} / bare psycopg+orjson = {ours / base:.2f} (bar: >= 0.50)")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        with psycopg.connect(ADMIN_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return 0


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
