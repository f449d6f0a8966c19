"""Audited write throughput on PostgreSQL with 8 concurrent writers: per-entity audit chains
(the unit of work today) against the first wave's one global chain under an advisory lock.

Each writer updates its own plans through `duban.uow.unit_of_work` (version check, audit entry,
outbox row, one commit). `--scheme global` replays the first wave's audit append — take the global
advisory lock, read the newest hash of the whole table, link to it — inside the same transaction,
so the two figures differ only in how the chain is linked. Runs in a throwaway database.

    .venv/bin/python benchmarks/bench_writes.py [--writers 8] [--seconds 10]

`--http` measures requests instead: `duban api --workers 2` on a throwaway database, driven from
this process by a stdlib client (one keep-alive connection per thread) at `--concurrency 8`, the
way issue 14 measured Duban beside Redmine — create (a task, then 交办 to its unit), progress
(签收, a report, its submission) and, where the server has them, the one-call forms (report
created and submitted at once; `POST /api/v1/bulk/…`).

    .venv/bin/python benchmarks/bench_writes.py --http [--n 2000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
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
    parser.add_argument("--http", action="store_true", help="requests against duban api --workers 2")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated phases (create,progress,...)")
    args = parser.parse_args()
    if args.http:
        http_main(args)
        return
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


# --- requests ---------------------------------------------------------------------------------


def _seed(url: str, units: int) -> dict[str, Any]:
    from datetime import date

    from duban.models import Plan as PlanRow
    from duban.models import Role, Unit, UnitKind, User

    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        rows = [Unit(name=f"基准单位{i}", kind=UnitKind.department) for i in range(units)]
        s.add_all(rows)
        s.flush()
        office = User(username="bench-office", roles=[str(Role.office)])
        heads = [
            User(username=f"bench-head{i}", roles=[str(Role.unit_head)], unit_id=u.id)
            for i, u in enumerate(rows)
        ]
        service = User(username="bench-oa", roles=[], is_service_account=True)
        s.add_all([office, service, *heads])
        plan = PlanRow(title="基准计划", period_start=date(2025, 1, 1), period_end=date(2027, 12, 31))
        s.add(plan)
        s.commit()
        out = {
            "plan": plan.id,
            "units": [u.id for u in rows],
            "office": office,
            "heads": heads,
            "oa": service,
        }
    engine.dispose()
    return out


class _Client(threading.local):
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def _drive(port: int, jobs: list[Any], step: Any, concurrency: int) -> tuple[float, list[float], int]:
    """Run `step(request, job)` for every job on `concurrency` threads; (seconds, latencies, errors)."""
    local = _Client(port)
    latencies: list[float] = []
    errors = [0]
    it = iter(jobs)
    lock = threading.Lock()

    def request(method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
        data = orjson.dumps(body) if body is not None else b""
        hdrs = {**headers, "Content-Type": "application/json"}
        for attempt in range(2):
            try:
                local.conn.request(method, path, body=data, headers=hdrs)
                r = local.conn.getresponse()
                payload = r.read()
                break
            except (ConnectionError, http.client.HTTPException):
                local.conn.close()
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                if attempt:
                    raise
        if r.status >= 300:
            with lock:
                errors[0] += 1
            raise RuntimeError(f"{method} {path}: {r.status} {payload[:300]!r}")
        return orjson.loads(payload) if payload else None

    def worker() -> None:
        while True:
            with lock:
                job = next(it, None)
            if job is None:
                return
            t0 = time.perf_counter()
            try:
                step(request, job)
            except RuntimeError as exc:
                print("error:", exc)
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, sorted(latencies), errors[0]


def _figures(name: str, seconds: float, latencies: list[float], errors: int, calls: int) -> dict[str, Any]:
    n = len(latencies)
    out = {
        "per_s": round(n / seconds, 1),
        "calls_per_item": calls,
        "p50_ms": round(latencies[n // 2] * 1000, 1) if n else None,
        "p95_ms": round(latencies[int(n * 0.95)] * 1000, 1) if n else None,
        "items": n,
        "errors": errors,
    }
    print(f"{name:34} {out['per_s']:>8}/s  p50 {out['p50_ms']} ms  p95 {out['p95_ms']} ms  errors {errors}")
    return out


def http_main(args: argparse.Namespace) -> None:
    import socket
    import subprocess

    from api.security import create_access_token
    from duban.settings import get_settings

    name = f"duban_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_SECRET_KEY": secret, "DUBAN_LOG_LEVEL": "WARNING"}
    os.environ.update({"DUBAN_SECRET_KEY": secret})
    get_settings.cache_clear()
    server = None
    only = {p for p in args.only.split(",") if p}
    try:
        migrate.upgrade(url)
        data = _seed(url, 200)
        settings = get_settings()
        now = datetime.now(UTC)

        def headers(user: Any) -> dict[str, str]:
            token, _ = create_access_token(
                subject=user.id,
                generation=user.token_generation,
                roles=user.roles,
                settings=settings,
                now=now,
            )
            return {"Authorization": f"Bearer {token}"}

        office = headers(data["office"])
        heads = {h.unit_id: headers(h) for h in data["heads"]}
        server = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/duban"),
                "api",
                "--workers",
                str(args.workers),
                "--port",
                str(port),
                "--no-access-log",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("api did not start")
            time.sleep(0.3)
        results: dict[str, Any] = {"n": args.n, "concurrency": args.concurrency, "workers": args.workers}
        units = data["units"]
        plan = data["plan"]
        created: list[tuple[int, int]] = []  # (assignment id, unit id)
        warm = [(i, units[i % len(units)]) for i in range(40)]

        def create(request: Any, job: tuple[int, int]) -> None:
            i, unit = job
            task = request(
                "POST",
                "/api/v1/tasks",
                office,
                {
                    "plan_id": plan,
                    "code": f"B{i}",
                    "title": f"基准任务{i}",
                    "due_date": "2026-06-30",
                    "units": [{"role": "lead", "unit_id": unit}],
                },
            )
            res = request("POST", f"/api/v1/tasks/{task['id']}/assignments", office, {})
            created.append((res["created"][0]["id"], unit))

        _drive(port, warm, create, args.concurrency)
        created.clear()
        jobs = [(i, units[i % len(units)]) for i in range(100, 100 + args.n)]
        if not only or "create" in only:
            results["create"] = _figures(
                "create (task + 交办), 2 calls", *_drive(port, jobs, create, args.concurrency), 2
            )

        def progress(request: Any, job: tuple[int, int]) -> None:
            aid, unit = job
            h = heads[unit]
            request("POST", f"/api/v1/assignments/{aid}/accept", h, {})
            rep = request(
                "POST", f"/api/v1/assignments/{aid}/reports", h, {"text": "按计划推进", "percent_done": 40}
            )
            request("POST", f"/api/v1/reports/{rep['id']}/submit", h)

        if (not only or "progress" in only) and created:
            mine = list(created)
            results["progress"] = _figures(
                "progress (签收 + report + submit), 3", *_drive(port, mine, progress, args.concurrency), 3
            )
        # The one-call forms: a task created and assigned at once; a report created and submitted.
        one_call: list[tuple[int, int]] = []

        def create1(request: Any, job: tuple[int, int]) -> None:
            i, unit = job
            request(
                "POST",
                "/api/v1/tasks",
                office,
                {
                    "plan_id": plan,
                    "code": f"C{i}",
                    "title": f"基准任务{i}",
                    "due_date": "2026-06-30",
                    "units": [{"role": "lead", "unit_id": unit}],
                    "assign": True,
                },
            )
            one_call.append((i, unit))

        if not only or "create1" in only:
            results["create_one_call"] = _figures(
                "create (task with assign), 1 call", *_drive(port, jobs, create1, args.concurrency), 1
            )
        bulk_made: list[tuple[int, int]] = []
        size = 100

        def bulk(request: Any, job: int) -> None:
            items = [
                {
                    "external_id": f"OA-{job}-{k}",
                    "plan_id": plan,
                    "code": f"D{job}-{k}",
                    "title": f"基准任务{job}-{k}",
                    "due_date": "2026-06-30",
                    "units": [{"role": "lead", "unit_id": units[(job * size + k) % len(units)]}],
                    "assign": True,
                }
                for k in range(size)
            ]
            out = request("POST", "/api/v1/bulk/tasks", office, {"items": items})
            assert out["failed"] == 0, out
            for item, res in zip(items, out["results"], strict=True):
                bulk_made.append((res["assignment_ids"][0], item["units"][0]["unit_id"]))

        if not only or "bulk" in only:
            batches = list(range(args.n // size))
            seconds, lat, errors = _drive(port, batches, bulk, args.concurrency)
            results["bulk"] = _figures(f"bulk tasks+交办, {size} a request", seconds, lat, errors, 1)
            results["bulk"]["items_per_s"] = round(len(bulk_made) / seconds, 1)
            print(f"{'  items':34} {results['bulk']['items_per_s']:>8}/s")

        def accept(request: Any, job: tuple[int, int]) -> None:
            request("POST", f"/api/v1/assignments/{job[0]}/accept", heads[job[1]], {})

        def progress1(request: Any, job: tuple[int, int]) -> None:
            aid, unit = job
            request(
                "POST",
                f"/api/v1/assignments/{aid}/reports",
                heads[unit],
                {"text": "按计划推进", "percent_done": 40, "submit": True},
            )

        if (not only or "progress1" in only) and bulk_made:
            results["accept"] = _figures(
                "签收 alone, 1 call", *_drive(port, bulk_made, accept, args.concurrency), 1
            )
            results["progress_one_call"] = _figures(
                "progress (report + submit), 1 call", *_drive(port, bulk_made, progress1, args.concurrency), 1
            )
        results["load_before_after"] = os.getloadavg()
        print(json.dumps(results, ensure_ascii=False))
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
