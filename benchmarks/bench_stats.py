"""Plan statistics at scale: the stats queries over a million assignments on PostgreSQL.

    .venv/bin/python benchmarks/bench_stats.py [--assignments 1000000] [--repeat 5] [--history]

Creates a throwaway database, migrates it, bulk-loads one plan with generate_series (50 units,
5 sections, 200 tasks, ~900 distinct due dates, states and progress reports spread over the rows),
then times the stats service functions the endpoints call. Prints the figures; drops the database.

`--history` also writes two audit entries per assignment (its creation in 2025, and a change in
2026 whose before-snapshot is its state on NOW) and times the same figures asked a year later *as
of* NOW, rebuilt from history (`at=`): every row has changed since, so every row takes the
snapshot path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlmodel import Session

from duban import migrate
from duban.db import make_engine
from duban.models import Plan, User

ADMIN_URL = os.environ.get("DUBAN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)

LOAD_SQL = """
INSERT INTO unit (name, kind, is_active, created_at, updated_at, version)
SELECT '单位' || u, CASE WHEN u %% 3 = 0 THEN 'town' ELSE 'department' END, true, now(), now(), 1
FROM generate_series(1, %(units)s) u;

INSERT INTO plan (title, timezone, report_cadence, report_due_day, period_start, period_end,
                  created_at, updated_at, version)
VALUES ('基准测试行动计划', 'Asia/Shanghai', 'monthly', 25, '2024-01-01', '2026-12-31', now(), now(), 1);

INSERT INTO plan_section (plan_id, code, title, position, created_at, updated_at, version)
SELECT 1, s::text, '重点任务' || s, s, now(), now(), 1 FROM generate_series(1, 5) s;

INSERT INTO task (plan_id, section_id, code, title, position, tags, created_at, updated_at, version)
SELECT 1, 1 + (t - 1) %% 5, t::text, '任务' || t, t, '[]', now(), now(), 1
FROM generate_series(1, %(tasks)s) t;

-- One row per (task, unit, period): the unique key of a recurring task's assignments.
INSERT INTO assignment (plan_id, section_id, task_id, unit_id, role, period, state, due_date, due_at,
                        original_due_date, extension_count, assigned_at, completed_at, percent_done,
                        created_at, updated_at, version)
SELECT 1, 1 + (t - 1) %% 5, t, u, 'lead', 'P' || p,
       st.state, d.due, (d.due + 1)::timestamp AT TIME ZONE 'Asia/Shanghai',
       CASE WHEN n %% 17 = 0 THEN d.due - 30 ELSE d.due END,
       CASE WHEN n %% 17 = 0 THEN 1 ELSE 0 END,
       '2024-01-02', CASE WHEN st.state = 'completed'
                          THEN (d.due - (n %% 20 - 5)::int)::timestamp AT TIME ZONE 'Asia/Shanghai' END,
       n %% 101, now(), now(), 1
FROM generate_series(0::bigint, %(n)s - 1) n
CROSS JOIN LATERAL (SELECT 1 + n %% %(tasks)s AS t, 1 + (n / %(tasks)s) %% %(units)s AS u,
                           n / (%(tasks)s * %(units)s) AS p) k
CROSS JOIN LATERAL (SELECT date '2024-03-01' + (n * 7919 %% 900)::int AS due) d
CROSS JOIN LATERAL (SELECT (ARRAY['assigned','accepted','accepted','completion_requested','completed',
                                  'completed','completed','returned','cancelled','accepted'])[1 + n %% 10]
                    AS state) st;

-- This month's reports for about a third of the open assignments.
INSERT INTO progress_report (assignment_id, unit_id, plan_id, period, text, percent_done, state,
                             submitted_at, created_at, updated_at, version)
SELECT id, unit_id, plan_id, '2025-12', '', percent_done, 'submitted', '2025-12-01 00:30+00', now(), now(), 1
FROM assignment WHERE id %% 3 = 0 AND state IN ('assigned', 'accepted', 'completion_requested');
ANALYZE;
"""

HISTORY_SQL = """
INSERT INTO audit_entry (at, action, entity_type, entity_id, before, after, scheme, prev_hash, hash)
SELECT '2025-01-02', 'assignment.assign', 'assignment', id::text, NULL, NULL, 2, repeat('0', 64),
       md5(id::text || 'c') || md5(id::text || 'C')
FROM assignment;
INSERT INTO audit_entry (at, action, entity_type, entity_id, before, after, scheme, prev_hash, hash)
SELECT '2026-01-15', 'assignment.progress', 'assignment', id::text,
       json_build_object('state', state, 'due_date', due_date, 'due_at', due_at,
                         'original_due_date', original_due_date, 'extension_count', extension_count,
                         'percent_done', percent_done, 'assigned_at', assigned_at),
       NULL, 2, md5(id::text || 'c') || md5(id::text || 'C'), md5(id::text || 'p') || md5(id::text || 'P')
FROM assignment;
UPDATE assignment SET updated_at = '2026-01-15';
ANALYZE;
"""
LATER = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def timed(label: str, repeat: int, fn: Callable[[], Any]) -> float:
    fn()  # warm the plan cache and the calendar cache
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    median = statistics.median(runs) * 1000
    print(f"  {label:<38} median {median:8.1f} ms   (min {min(runs) * 1000:.1f}, max {max(runs) * 1000:.1f})")
    return median


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignments", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--history", action="store_true", help="also time the figures rebuilt as of NOW")
    args = parser.parse_args()

    from api.stats import service as stats

    db = f"duban_bench_stats_{uuid.uuid4().hex[:8]}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    with psycopg.connect(ADMIN_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    engine = None
    try:
        migrate.upgrade(url)
        start = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as c:
            # Integers only, formatted in: a multi-statement script cannot be a prepared statement.
            c.execute(LOAD_SQL % {"n": args.assignments, "units": args.units, "tasks": args.tasks})
            (count,) = c.execute("SELECT count(*) FROM assignment").fetchone() or (0,)
            (dates,) = c.execute("SELECT count(DISTINCT due_date) FROM assignment").fetchone() or (0,)
        took = time.perf_counter() - start
        print(f"loaded {count:,} assignments ({dates} distinct due dates) in {took:.1f} s")

        engine = make_engine(url)
        with Session(engine) as session:
            plan = session.get(Plan, 1)
            assert plan is not None
            office = User(username="bench", roles=["office"])
            unit_user = User(username="bench-unit", roles=["unit_staff"], unit_id=7)
            summary = stats.plan_summary(session, plan=plan, user=office, now=NOW)
            print(
                f"  plan: total {summary['total']:,}, overdue {summary['overdue']:,}, "
                f"working days overdue max {summary['overdue_working_days_max']}, "
                f"sum {summary['overdue_working_days_sum']:,}, report rate {summary['reports']['rate']}"
            )
            plan_ms = timed(
                "GET /stats/plans/{id}",
                args.repeat,
                lambda: stats.plan_summary(session, plan=plan, user=office, now=NOW),
            )
            for by in ("section", "task", "unit"):
                timed(
                    f"GET /stats/plans/{{id}}/{by}s",
                    args.repeat,
                    lambda by=by: stats.group_stats(session, plan=plan, user=office, now=NOW, by=by),
                )
            timed(
                "GET /stats/plans/{id}/overdue (200)",
                args.repeat,
                lambda: stats.overdue_items(session, plan=plan, user=office, now=NOW, limit=200),
            )
            timed(
                "GET /stats/plans/{id} as a unit user",
                args.repeat,
                lambda: stats.plan_summary(session, plan=plan, user=unit_user, now=NOW),
            )
            print(f"RESULT plan stats at {count:,} assignments: {plan_ms:.0f} ms (median of {args.repeat})")
        if args.history:
            start = time.perf_counter()
            with psycopg.connect(url, autocommit=True) as c:
                c.execute(HISTORY_SQL)
            print(f"wrote {2 * count:,} audit entries in {time.perf_counter() - start:.1f} s")
            with Session(engine) as session:
                plan = session.get(Plan, 1)
                assert plan is not None
                office = User(username="bench", roles=["office"])
                rebuilt = stats.plan_summary(session, plan=plan, user=office, now=LATER, at=NOW)
                same = {k: rebuilt[k] == summary[k] for k in ("total", "overdue", "states", "reports")}
                print(f"  rebuilt as of NOW, a year later: same figures as then: {same}")
                as_of_ms = timed(
                    "plan totals as of NOW (rebuilt)",
                    args.repeat,
                    lambda: stats.plan_summary(session, plan=plan, user=office, now=LATER, at=NOW),
                )
                timed(
                    "per unit as of NOW (rebuilt)",
                    args.repeat,
                    lambda: stats.group_stats(session, plan=plan, user=office, now=LATER, by="unit", at=NOW),
                )
                timed(
                    "overdue (200) as of NOW (rebuilt)",
                    args.repeat,
                    lambda: stats.overdue_items(
                        session, plan=plan, user=office, now=LATER, limit=200, at=NOW
                    ),
                )
                print(f"RESULT rebuilt plan stats at {count:,} assignments: {as_of_ms:.0f} ms")
    finally:
        if engine is not None:
            engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
