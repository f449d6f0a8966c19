"""Sustained mixed load (issue 12): 64 clients for 10 minutes against two api workers on PostgreSQL.

    .venv/bin/python benchmarks/load.py [--minutes 10] [--clients 64] [--workers 2]
        [--db NAME [--reuse]] [--docs]

Generates the county data (benchmarks/generate.py) unless `--reuse`, starts `duban api --workers 2`
and runs `--clients` threads, each with a keep-alive connection, each looping over a mix of what
the offices and units do all day:

    list       40 %  a unit head's open assignments, 100 a page
    detail     30 %  one assignment with its history (the unit's own)
    dashboard  10 %  the office's plan dashboard
    progress   10 %  签收 + this month's report, submitted, on an assignment still `assigned`
    create     10 %  a task and its 交办; its new assignment feeds `progress`
    bulletin         clients 0–3 only, one in 50 of their operations, each on its own plans

Reports every status that is not 2xx (by operation and overall), throughput, p50/p95/p99 per
operation, each api worker's RSS every `--sample-seconds` (flat after warm-up?), and the peak
number of PostgreSQL connections to the database (pg_stat_activity, sampled every second) against
the bound the settings allow (workers × (DUBAN_DB_POOL_SIZE + DUBAN_DB_MAX_OVERFLOW)). Writes
benchmarks/results/load-<YYYY-MM-DD>.json; `--docs` puts the figures into docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from benchmarks import generate, harness  # noqa: E402
from benchmarks.run import OPEN_QS, Data, api_forms, create_op, progress_op  # noqa: E402

DOCS = ROOT / "docs" / "reliability.md"
MIX = (("list", 40), ("detail", 30), ("dashboard", 10), ("progress", 10), ("create", 10))


class Load:
    def __init__(self, s: harness.Servers, d: Data, *, clients: int) -> None:
        self.s, self.d = s, d
        self.clients = clients
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.by_op: dict[str, Counter[str]] = defaultdict(Counter)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.window: Counter[str] = Counter()
        self.run = uuid.uuid4().hex[:6]
        self.n = 0
        self.ops = [name for name, weight in MIX for _ in range(weight)]
        self.forms = api_forms()

    def _count(self, op: str, statuses: list[int]) -> None:
        with self.lock:
            for st in statuses:
                key = str(st) if st else "connection error"
                self.statuses[key] += 1
                self.by_op[op][key] += 1

    def client(self, i: int, stop: threading.Event) -> None:
        rng = random.Random(i)
        c = harness.Http(self.s.api, Counter(), threading.Lock(), timeout=120)
        own_plans = self.d.plans[i::4] if i < 4 else []
        k = 0
        while not stop.is_set():
            k += 1
            op = "bulletin" if own_plans and k % 50 == 0 else rng.choice(self.ops)
            t0 = time.perf_counter()
            statuses = getattr(self, "op_" + op)(c, rng, own_plans, k)
            dt = time.perf_counter() - t0
            self._count(op, statuses)
            if all(200 <= st < 300 for st in statuses):
                with self.lock:
                    self.latency[op].append(dt)
                    self.window[op] += 1

    # Each operation answers the statuses of its calls (it stops at the first failure).

    def op_list(self, c: harness.Http, rng: random.Random, *_: Any) -> list[int]:
        unit = rng.choice(self.d.units)
        st, _ = c.call(
            "GET", f"/api/v1/assignments?{OPEN_QS}&limit=100", token=self.d.head[unit][1], count=False
        )
        return [st]

    def op_detail(self, c: harness.Http, rng: random.Random, *_: Any) -> list[int]:
        aid, unit = rng.choice(self.d.detail)
        st, _ = c.call("GET", f"/api/v1/assignments/{aid}", token=self.d.head[unit][1], count=False)
        return [st]

    def op_dashboard(self, c: harness.Http, rng: random.Random, *_: Any) -> list[int]:
        st, _ = c.call(
            "GET", f"/api/v1/stats/plans/{rng.choice(self.d.plans)}", token=self.d.office, count=False
        )
        return [st]

    def op_progress(self, c: harness.Http, rng: random.Random, *_: Any) -> list[int]:
        try:
            return progress_op(self.d, c, self.forms)
        except StopIteration:  # nothing left `assigned` (until create's new ones are fetched)
            return self.op_create(c, rng)

    def op_create(self, c: harness.Http, rng: random.Random, *_: Any) -> list[int]:
        with self.lock:
            self.n += 1
            n = self.n
        return create_op(
            self.d, c, self.forms, rng.choice(self.d.plans), rng.choice(self.d.units), f"L{self.run}{n}"
        )

    def op_bulletin(self, c: harness.Http, rng: random.Random, own: list[int], k: int) -> list[int]:
        plan = own[(k // 50) % len(own)]
        body = {"period_kind": "month"}
        st, _ = c.call("POST", f"/api/v1/plans/{plan}/bulletins", token=self.d.office, body=body, count=False)
        return [st]


def pool_bound(env: dict[str, str], workers: int) -> tuple[int, str]:
    import importlib
    import importlib.util

    st = harness.settings_of(env)
    per = st.db_pool_size + st.db_max_overflow
    # The hot read path (api.hotpath) on the event loop holds async connections of its own, bounded
    # like the pool; threaded (THREADED), it takes the sync pool's.
    hot = importlib.util.find_spec("api.hotpath") is not None
    if hot and not getattr(importlib.import_module("api.hotpath"), "THREADED", True):
        text = f"{workers} workers × 2 (the pool and the async read path) × ({st.db_pool_size} + overflow {st.db_max_overflow})"
        return workers * 2 * per, text
    return workers * per, f"{workers} workers × (pool {st.db_pool_size} + overflow {st.db_max_overflow})"


def main() -> int:
    p = argparse.ArgumentParser(description="Duban's sustained mixed load (issue 12)")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--warmup-minutes", type=float, default=1, help="RSS after this is the baseline")
    p.add_argument("--sample-seconds", type=float, default=10)
    p.add_argument("--scale", choices=sorted(generate.SCALES), default="county")
    p.add_argument("--db")
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--docs", action="store_true", help="write the figures into docs/reliability.md")
    p.add_argument("--out", type=Path)
    a = p.parse_args()

    name = a.db or f"duban_load_{uuid.uuid4().hex[:8]}"
    url = generate.db_url(name)
    if not a.reuse:
        generate.generate(name, scale=generate.SCALES[a.scale], drop=bool(a.db))
    data = harness.data_counts(url)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": harness.machine(url),
    }
    try:
        with harness.servers(url, workers=a.workers) as s:
            d = Data(url, s.env)
            bound, bound_text = pool_bound(s.env, a.workers)
            load = Load(s, d, clients=a.clients)
            workers = s.api_workers()
            rss: list[dict[str, Any]] = []
            conns: list[int] = []
            stop = threading.Event()
            seconds = a.minutes * 60
            print(
                f"{a.clients} clients, {a.minutes:g} min, api workers {workers}, pool bound {bound} ({bound_text})"
            )

            def sampler() -> None:
                with psycopg.connect(url, autocommit=True, application_name="duban-bench") as c:
                    t0 = time.monotonic()
                    next_rss = t0
                    while not stop.is_set():
                        # The api's connections only: not autovacuum, not this driver's own.
                        row = c.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
                            " AND backend_type = 'client backend' AND application_name <> 'duban-bench'",
                            (name,),
                        ).fetchone()
                        conns.append(int(row[0]) if row else 0)
                        now = time.monotonic()
                        if now >= next_rss:
                            with load.lock:
                                window = dict(load.window)
                                load.window.clear()
                                errors = sum(v for k, v in load.statuses.items() if not k.startswith("2"))
                            sample = {
                                "t": round(now - t0),
                                "rss_mb": [harness.rss_mb(w) for w in workers],
                                "connections": conns[-1],
                                "ops": sum(window.values()),
                                "errors_so_far": errors,
                                "load_1m": round(os.getloadavg()[0], 1),
                            }
                            rss.append(sample)
                            print("  " + json.dumps(sample), flush=True)
                            next_rss += a.sample_seconds
                        stop.wait(1.0)

            b0, t0c = harness.cpu_busy()
            threads = [
                threading.Thread(target=load.client, args=(i, stop), daemon=True) for i in range(a.clients)
            ]
            sampler_t = threading.Thread(target=sampler, daemon=True)
            started = time.monotonic()
            sampler_t.start()
            for t in threads:
                t.start()
            stop.wait(seconds)
            stop.set()
            for t in threads:
                t.join(150)
            elapsed = time.monotonic() - started
            sampler_t.join(5)
            b1, t1c = harness.cpu_busy()
            alive = [w for w in workers if harness.rss_mb(w) > 0]
    finally:
        if not a.reuse and not a.keep:
            with psycopg.connect(generate.ADMIN_URL, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    ops = {}
    total_ok = 0
    for op, lat in sorted(load.latency.items()):
        lat.sort()
        total_ok += len(lat)
        ops[op] = {
            "ok": len(lat),
            "per_second": round(len(lat) / elapsed, 1),
            "p50_ms": round(harness.percentile(lat, 50) * 1000, 1),
            "p95_ms": round(harness.percentile(lat, 95) * 1000, 1),
            "p99_ms": round(harness.percentile(lat, 99) * 1000, 1),
            "statuses": dict(load.by_op[op]),
        }
    all_lat = sorted(x for lat in load.latency.values() for x in lat)
    warm = [r for r in rss if r["t"] >= a.warmup_minutes * 60] or rss
    per_worker = list(zip(*[r["rss_mb"] for r in warm], strict=False)) if warm else []
    result.update(
        {
            "config": {
                "clients": a.clients,
                "minutes": a.minutes,
                "workers": a.workers,
                "scale": a.scale if not a.reuse else "reused",
                "data": data,
                "database": name,
            },
            "seconds": round(elapsed, 1),
            "operations": total_ok,
            "per_second": round(total_ok / elapsed, 1),
            "p50_ms": round(harness.percentile(all_lat, 50) * 1000, 1),
            "p95_ms": round(harness.percentile(all_lat, 95) * 1000, 1),
            "p99_ms": round(harness.percentile(all_lat, 99) * 1000, 1),
            "requests": sum(load.statuses.values()),
            "errors": {k: v for k, v in load.statuses.items() if not k.startswith("2")},
            "by_operation": ops,
            "rss": {
                "workers": workers,
                "workers_alive_at_end": alive,
                "after_warmup_mb": [w[0] for w in per_worker],
                "end_mb": [w[-1] for w in per_worker],
                "max_mb": [max(w) for w in per_worker],
                "median_mb": [statistics.median(w) for w in per_worker],
                "samples": rss,
            },
            "connections": {"peak": max(conns, default=0), "bound": bound, "bound_from": bound_text},
            "machine_busy": round((b1 - b0) / (t1c - t0c), 2) if t1c > t0c else None,
        }
    )
    result["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out = a.out or harness.ROOT / "benchmarks" / "results" / f"load-{datetime.now(UTC):%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(report(result))
    print(f"results: {out}")
    if a.docs:
        write_docs(result)
    return 0


def report(r: dict[str, Any]) -> str:
    m, c = r["machine"], r["config"]
    lines = [
        f"Sustained load, measured {r['date']} by `benchmarks/load.py`: {c['clients']} clients, "
        f"{r['seconds'] / 60:.1f} min, `duban api --workers {c['workers']}`, PostgreSQL "
        f"{m.get('postgresql', '?')}; data: {c['data']}. Machine: {m['cores']} cores, load average "
        f"{m['load_before'][0]} before, {m['load_after'][0]} after; CPU busy {r['machine_busy']:.0%} during the run.",
        "",
        "| operation | ok | per second | p50 ms | p95 ms | p99 ms | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for op, x in r["by_operation"].items():
        bad = {k: v for k, v in x["statuses"].items() if not k.startswith("2")}
        lines.append(
            f"| {op} | {x['ok']:,} | {x['per_second']} | {x['p50_ms']} | {x['p95_ms']} | {x['p99_ms']} | {bad or 0} |"
        )
    lines.append(
        f"| **all** | {r['operations']:,} | {r['per_second']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
        f"| {r['errors'] or 0} |"
    )
    rss, cn = r["rss"], r["connections"]
    lines += [
        "",
        f"- Requests: {r['requests']:,}; errors by status: {r['errors'] or 'none'}.",
        "- Worker RSS (MB) after warm-up → end (max): "
        + "; ".join(
            f"{a:.0f} → {b:.0f} ({x:.0f})"
            for a, b, x in zip(rss["after_warmup_mb"], rss["end_mb"], rss["max_mb"], strict=False)
        )
        + f"; workers alive at the end: {len(rss['workers_alive_at_end'])} of {len(rss['workers'])}.",
        "- RSS by minute (MB, one figure per worker): "
        + "; ".join(
            f"{x['t'] // 60} min {'/'.join(f'{v:.0f}' for v in x['rss_mb'])}"
            for x in rss["samples"]
            if x["t"] % 60 < 10
        )
        + ".",
        f"- PostgreSQL connections to the database, peak {cn['peak']} (sampled every second) against a bound of "
        f"{cn['bound']} ({cn['bound_from']}).",
    ]
    return "\n".join(lines)


def write_docs(r: dict[str, Any]) -> None:
    start, end = "<!-- bench:load:start -->", "<!-- bench:load:end -->"
    block = f"{start}\n{report(r)}\n{end}"
    text = DOCS.read_text()
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n## Sustained load (`benchmarks/load.py`)\n\n" + block + "\n"
    DOCS.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
