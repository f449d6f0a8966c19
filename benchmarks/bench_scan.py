"""Notifier figures on PostgreSQL: deadline-scan time and peak memory at 100k and 1M open
assignments, and deliveries per second to a local receiver.

Runs in a throwaway database it creates and drops. Usage:
    .venv/bin/python benchmarks/bench_scan.py [--sizes 100000,1000000] [--deliveries 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from benchmarks import harness  # noqa: E402
from sqlmodel import Session  # noqa: E402

from duban import migrate  # noqa: E402
from duban.clock import FixedClock  # noqa: E402
from duban.db import make_engine  # noqa: E402
from duban.settings import Settings  # noqa: E402

ADMIN = os.environ.get("DUBAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Tuesday 2026-01-20 09:00 Asia/Shanghai.
AS_OF = datetime(2026, 1, 20, 1, 0, tzinfo=UTC)
UNITS, TASKS = 200, 1000


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def load(engine: sa.Engine, n: int) -> None:
    """Bulk-load n open assignments with generate_series: due dates over 500 days from 2025-12-01,
    so about 6% are overdue at AS_OF and a few percent are inside a due-soon window."""
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO unit (name, kind, is_active, version, created_at, updated_at) "
                "SELECT '单位' || g, CASE WHEN g = 1 THEN 'office' ELSE 'department' END, "
                "true, 1, now(), now() "
                f"FROM generate_series(1, {UNITS}) g"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO plan (title, timezone, report_cadence, report_due_day, "
                "version, created_at, updated_at) "
                "VALUES ('基准计划', 'Asia/Shanghai', 'monthly', 25, 1, now(), now())"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO task (plan_id, code, title, tags, position, version, created_at, updated_at) "
                "SELECT 1, 'T' || g, '任务' || g, '[]', g, 1, now(), now() "
                f"FROM generate_series(1, {TASKS}) g"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO assignment (plan_id, task_id, unit_id, role, period, state, "
                "due_date, assigned_at, "
                "percent_done, extension_count, version, created_at, updated_at) "
                f"SELECT 1, 1 + g % {TASKS}, 1 + (g / {TASKS}) % {UNITS}, 'lead', "
                f"(g / ({TASKS} * {UNITS}))::text, "
                "'accepted', date '2025-12-01' + (g % 500), timestamptz '2026-01-01 00:00+08', "
                "0, 0, 1, now(), now() "
                f"FROM generate_series(1, {n}) g"
            )
        )
        # The rows stand for what existed when incremental scans arrived (seen by earlier passes);
        # the insert trigger recorded them as changed.
        c.execute(sa.text("DELETE FROM notice_change"))
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))


def scan_once(
    engine: sa.Engine, settings: Settings, now: datetime, *, full: bool = False
) -> dict[str, object]:
    """One pass; `full`: the whole scan as before incremental passes (record=False), rolled back."""
    from notifier.scan import scan_deadlines

    tracemalloc.start()
    started = time.perf_counter()
    with Session(engine) as s:
        counts = scan_deadlines(s, now=now, settings=settings, record=not full)
        if full:
            s.rollback()
        else:
            s.commit()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": round(seconds, 3),
        "created": sum(counts.values()),
        "counts": counts,
        "python_peak_mb": round(peak / 2**20, 2),
        "process_maxrss_mb": harness.peak_rss_mb(),
    }


def bench_scan(n: int, settings: Settings) -> dict[str, object]:
    name = f"duban_bench_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        load(engine, n)
        loaded = time.perf_counter() - t0
        result: dict[str, object] = {"open_assignments": n, "load_seconds": round(loaded, 1)}
        result["first_scan"] = scan_once(engine, settings, AS_OF)
        # Nothing newly due an hour later: the incremental pass, and the whole scan for comparison.
        result["repeat_scan"] = scan_once(engine, settings, AS_OF + timedelta(hours=1))
        result["repeat_full_scan"] = scan_once(engine, settings, AS_OF + timedelta(hours=1), full=True)
        # 100 assignments changed (extended) between passes: they alone are looked at again.
        with engine.begin() as c:
            c.execute(
                sa.text(
                    "UPDATE assignment SET due_date = due_date + 30 WHERE id IN (SELECT id FROM assignment LIMIT 100)"
                )
            )
        result["after_100_changes_scan"] = scan_once(engine, settings, AS_OF + timedelta(hours=2))
        result["next_day_scan"] = scan_once(engine, settings, AS_OF + timedelta(days=1))
        engine.dispose()
        return result
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_deliveries(n: int, workers: int) -> dict[str, object]:
    from tests.notifier.conftest import add_endpoint, start_receiver

    from notifier.runner import Runner

    name = f"duban_bench_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    receiver, server = start_receiver()
    try:
        migrate.upgrade(url)
        engine = make_engine(url, pool_size=workers + 2)
        with Session(engine) as s:
            add_endpoint(s, receiver.url + "/hook", rate=10**9)
            s.execute(
                sa.text(
                    "INSERT INTO outbox_event (message_id, type, dedupe_key, payload, created_at) "
                    "SELECT 'msg_' || g, 'instruction.issued', 'bench:' || g, "
                    '\'{"type": "instruction.issued", "data": {"text": "请落实"}}\', now() '
                    f"FROM generate_series(1, {n}) g"
                )
            )
            s.commit()
        settings = Settings(webhook_allow_private=True, notifier_workers=workers, notifier_batch_size=100)
        runner = Runner(engine=engine, clock=FixedClock(AS_OF), settings=settings)
        started = time.perf_counter()
        runner.run(once=True)
        seconds = time.perf_counter() - started
        assert len(set(receiver.ids())) == n
        engine.dispose()
        return {
            "messages": n,
            "workers": workers,
            "seconds": round(seconds, 2),
            "per_second": round(n / seconds),
        }
    finally:
        server.shutdown()
        server.server_close()
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    settings = Settings(public_url="https://duban.example.gov.cn")
    results = {
        "scan": [bench_scan(int(n), settings) for n in args.sizes.split(",") if n],
        "deliveries": bench_deliveries(args.deliveries, args.workers) if args.deliveries else None,
    }
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
