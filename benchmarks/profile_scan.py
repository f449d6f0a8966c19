"""Statement by statement: one incremental and one full pass an hour after a first pass, in one warm
process (PostgreSQL, a throwaway database loaded as bench_scan.py does).

    .venv/bin/python benchmarks/profile_scan.py 200000
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datetime import timedelta

import bench_scan as b
import sqlalchemy as sa
from sqlmodel import Session

from duban import migrate
from duban.db import make_engine
from duban.settings import Settings
from notifier.scan import scan_deadlines

n = int(sys.argv[1])
name = f"duban_bench_{uuid.uuid4().hex[:10]}"
b.admin(f'CREATE DATABASE "{name}"')
url = b.ADMIN.rsplit("/", 1)[0] + "/" + name
try:
    migrate.upgrade(url)
    engine = make_engine(url)
    b.load(engine, n)
    settings = Settings(public_url="https://duban.example.gov.cn")
    with Session(engine) as s:
        scan_deadlines(s, now=b.AS_OF, settings=settings)
        s.commit()
    times = []

    def before(conn, cur, stmt, params, ctx, many):
        ctx._t0 = time.perf_counter()

    def after(conn, cur, stmt, params, ctx, many):
        times.append((time.perf_counter() - ctx._t0, " ".join(stmt.split())[:110]))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    for full in (False, True):
        times.clear()
        t0 = time.perf_counter()
        with Session(engine) as s:
            scan_deadlines(s, now=b.AS_OF + timedelta(hours=1), settings=settings, record=not full)
            s.commit() if not full else s.rollback()
        total = time.perf_counter() - t0
        print(
            "full" if full else "incremental",
            round(total, 3),
            "s;",
            len(times),
            "statements, sql",
            round(sum(t for t, _ in times), 3),
        )
        for t, st in sorted(times, reverse=True)[:6]:
            print(f"   {t * 1000:7.1f} ms  {st}")
    engine.dispose()
finally:
    b.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
