"""Audited write throughput on PostgreSQL with 8 concurrent writers: per-entity audit chains
(the unit of work today) against the first wave's one global chain under an advisory lock.

Each writer updates its own plans through `duban.uow.unit_of_work` (version check, audit entry,
outbox row, one commit). `--scheme global` replays the first wave's audit append — take the global
advisory lock, read the newest hash of the whole table, link to it — inside the same transaction,
so the two figures differ only in how the chain is linked. Runs in a throwaway database.

    .venv/bin/python benchmarks/bench_writes.py [--writers 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from duban import audit, migrate  # noqa: E402
from duban.db import make_engine  # noqa: E402
from duban.models import AuditEntry, Plan  # noqa: E402
from duban.uow import unit_of_work  # noqa: E402

ADMIN = os.environ.get("DUBAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_LOCK = 0x44554241


def _global_append(session: Session, *, actor: object, entries: list[audit.Pending], now: datetime) -> list:
    # The first wave's append: every audited write in the cluster queues on one lock.
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    session.flush()
    prev = session.exec(select(AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1)).first()
    rows = []
    for item in entries:
        e = AuditEntry(
            at=now,
            action=item.action,
            entity_type=item.entity_type,
            entity_id=item.entity_id,
            before=item.before,
            after=item.after,
            prev_hash=prev or audit.GENESIS,
            hash="",
            scheme=audit.GLOBAL_CHAIN,
        )
        e.hash = prev = audit.compute_hash(e)
        rows.append(e)
    session.add_all(rows)
    return rows


def run(url: str, *, writers: int, seconds: float, scheme: str) -> dict[str, float]:
    engine = make_engine(url, pool_size=writers)
    with Session(engine) as s:
        plans = [Plan(title=f"基准计划{i}") for i in range(writers * 4)]
        s.add_all(plans)
        s.commit()
        ids = [p.id for p in plans]
    original = audit.append
    if scheme == "global":
        audit.append = _global_append  # type: ignore[assignment]
    counts = [0] * writers
    stop = time.monotonic() + seconds
    latencies: list[float] = []

    def writer(w: int) -> None:
        mine = ids[w * 4 : (w + 1) * 4]
        with Session(engine, expire_on_commit=False) as s:
            n = 0
            while time.monotonic() < stop:
                plan = s.get(Plan, mine[n % 4])
                assert plan is not None
                t0 = time.perf_counter()
                with unit_of_work(s, actor=None, now=datetime.now(UTC)) as uow:
                    uow.track(plan, action="plan.update")
                    plan.title = f"基准计划{w}-{n}"
                latencies.append(time.perf_counter() - t0)
                n += 1
            counts[w] = n

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    audit.append = original  # type: ignore[assignment]
    with Session(engine) as s:
        verified = audit.verify(s)
    engine.dispose()
    latencies.sort()
    total = sum(counts)
    return {
        "writes_per_s": round(total / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        "writes": total,
        "chain_intact": verified.broken_id is None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    results = {}
    for scheme in ("global", "entity"):
        name = f"duban_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = ADMIN.rsplit("/", 1)[0] + "/" + name
        try:
            migrate.upgrade(url)
            results[scheme] = run(url, writers=args.writers, seconds=args.seconds, scheme=scheme)
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(scheme, json.dumps(results[scheme]))
    ratio = results["entity"]["writes_per_s"] / max(results["global"]["writes_per_s"], 0.1)
    print(f"per-entity chains vs global lock, {args.writers} writers: {ratio:.2f}x")


if __name__ == "__main__":
    main()
