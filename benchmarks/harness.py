"""What run.py and load.py share: the servers they start, the tokens, the clients, the machine.

Servers: `duban api --workers N` on a loopback port and the bare yardstick (baseline_app.py, same
number of uvicorn workers), each against the same database. Clients: wrk (when installed) for
GET workloads, else and for multi-call writes a thread per client with a keep-alive
`http.client` connection. Tokens are minted with the api's own code and secret (no argon2 logins
in the measured run).
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# --- the machine ---------------------------------------------------------------------------------


def machine(pg_url: str | None = None) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    out: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    if pg_url:
        import psycopg

        with psycopg.connect(pg_url) as c:
            row = c.execute("SHOW server_version").fetchone()
            out["postgresql"] = row[0] if row else "?"
    return out


def data_counts(url: str) -> str:
    """What the database holds, for the figures' caption: "200 units, 20 plans, …"."""
    import psycopg

    tables = ("unit", "plan", "assignment", "progress_report")
    with psycopg.connect(url) as c:
        counts = {t: int((c.execute(f"SELECT count(*) FROM {t}").fetchone() or (0,))[0]) for t in tables}
    return ", ".join(f"{v:,} {k.replace('_', ' ')}s" for k, v in counts.items())


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, for the share used during a workload."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that over fork and
    exec, so a child started by a big parent reports the parent's peak (run.py's 250 MB)."""
    return rss_mb(os.getpid(), "VmHWM") or round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


# --- servers -------------------------------------------------------------------------------------


@dataclass
class Servers:
    api: str
    baseline: str
    api_proc: subprocess.Popen[bytes]
    baseline_proc: subprocess.Popen[bytes]
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)

    def api_workers(self) -> list[int]:
        """The api's worker processes (uvicorn's children: the resource tracker has no port)."""
        pids = []
        for child in children(self.api_proc.pid):
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "multiprocessing.resource_tracker" not in cmd:
                pids.append(child)
        return pids or [self.api_proc.pid]


def api_env(url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DUBAN_DATABASE_URL": url,
        "DUBAN_LOG_LEVEL": "WARNING",
        "DUBAN_ENVIRONMENT": "test",
        "DUBAN_SECRET_KEY": secrets.token_hex(32),
        "DUBAN_ACCESS_TOKEN_MINUTES": "240",
        "DUBAN_WEBHOOK_ALLOW_PRIVATE": "true",
        **extra,
    }


@contextmanager
def servers(url: str, *, workers: int = 2, env_extra: dict[str, str] | None = None) -> Iterator[Servers]:
    env = api_env(url, **(env_extra or {}))
    api_port, base_port = free_port(), free_port()
    logdir = Path(tempfile.mkdtemp(prefix="duban-bench-"))
    api_log, base_log = (logdir / "api.log").open("wb"), (logdir / "baseline.log").open("wb")
    api = subprocess.Popen(
        [str(BIN / "duban"), "api", "--port", str(api_port), "--workers", str(workers), "--no-access-log"],
        env=env,
        stdout=api_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_env = {**os.environ, "BASELINE_DSN": url, "PYTHONPATH": str(ROOT)}
    base = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "benchmarks.baseline_app:app",
            "--port",
            str(base_port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=base_env,
        cwd=ROOT,
        stdout=base_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    s = Servers(
        api=f"http://127.0.0.1:{api_port}",
        baseline=f"http://127.0.0.1:{base_port}",
        api_proc=api,
        baseline_proc=base,
        env=env,
        logs=[logdir / "api.log", logdir / "baseline.log"],
    )
    try:
        wait_http(s.api + "/healthz", timeout=120)
        wait_http(s.baseline + "/trivial", timeout=60)
        yield s
    finally:
        for p in (api, base):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (api, base):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        api_log.close()
        base_log.close()


def settings_of(env: dict[str, str]) -> Any:
    """The Settings a process started with `env` sees (DUBAN_* variables)."""
    from duban.settings import Settings

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("DUBAN_")})
    try:
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def mint_tokens(env: dict[str, str], users: list[tuple[int, int, list[str]]]) -> dict[int, str]:
    """Access tokens for (user id, token generation, roles), signed with the api's secret."""
    from api.security import create_access_token

    settings = settings_of(env)
    now = datetime.now(UTC)
    return {
        uid: create_access_token(subject=uid, generation=gen, roles=roles, settings=settings, now=now)[0]
        for uid, gen, roles in users
    }


# --- figures -------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def summary(latencies: list[float], seconds: float, statuses: Counter[str], ops: int) -> dict[str, Any]:
    lat = sorted(latencies)
    errors = {k: v for k, v in statuses.items() if not k.startswith("2")}
    return {
        "ops": ops,
        "seconds": round(seconds, 2),
        "per_second": round(ops / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p95_ms": round(percentile(lat, 95) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "requests": sum(statuses.values()),
        "errors": errors,
    }


# --- the thread client ---------------------------------------------------------------------------


class Http:
    """One keep-alive connection; `call` answers (status, parsed JSON or None)."""

    def __init__(self, base: str, statuses: Counter[str], lock: threading.Lock, timeout: float = 60) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.statuses, self.lock = statuses, lock
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(
        self, method: str, path: str, *, token: str | None = None, body: Any = None, count: bool = True
    ) -> tuple[int, Any]:
        headers = {"Connection": "keep-alive"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            status = resp.status
            if resp.getheader("connection", "").lower() == "close":
                self.conn.close()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            if count:
                with self.lock:
                    self.statuses[f"error:{type(exc).__name__}"] += 1
            return 0, None
        if count:
            with self.lock:
                self.statuses[str(status)] += 1
        try:
            parsed = json.loads(raw) if raw and raw[:1] in b"{[" else None
        except ValueError:
            parsed = None
        return status, parsed


Op = Callable[[Http], bool]  # True: one operation done; False: failed (counted as an error status)


def drive(
    base: str,
    op: Op,
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 0.0,
    on_sample: Callable[[float], None] | None = None,
    sample_every: float = 1.0,
) -> dict[str, Any]:
    """Run `op` from `concurrency` threads for `seconds` (after `warmup`); latency per operation."""
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    latencies: list[float] = []
    ops = [0]
    state = {"measuring": warmup <= 0}
    start = time.monotonic()
    t_measure = [start + warmup]
    stop_at = start + warmup + seconds
    exhausted = threading.Event()

    def worker() -> None:
        client = Http(base, statuses, lock)
        mine: list[float] = []
        n = 0
        while time.monotonic() < stop_at and not exhausted.is_set():
            t0 = time.perf_counter()
            try:
                ok = op(client)
            except StopIteration:
                exhausted.set()
                break
            dt = time.perf_counter() - t0
            if state["measuring"] and ok:
                mine.append(dt)
                n += 1
        with lock:
            latencies.extend(mine)
            ops[0] += n

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    if warmup > 0:
        time.sleep(warmup)
        with lock:
            statuses.clear()
        state["measuring"] = True
        t_measure[0] = time.monotonic()
    next_sample = time.monotonic()
    while any(t.is_alive() for t in threads):
        if on_sample is not None and time.monotonic() >= next_sample:
            on_sample(time.monotonic() - t_measure[0])
            next_sample += sample_every
        for t in threads:
            t.join(timeout=0.2)
    elapsed = min(time.monotonic(), stop_at) - t_measure[0]
    out = summary(latencies, elapsed, statuses, ops[0])
    out["concurrency"] = concurrency
    out["client"] = "threads"
    if exhausted.is_set():
        out["note"] = "stopped early: no more work of this kind in the data"
    return out


# --- wrk -----------------------------------------------------------------------------------------

LUA = """
local reqs = {}
local items = %(items)s
local i = 0
init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) %% 100000)
  for k, it in ipairs(items) do
    local h = {}
    if it[2] ~= "" then h["Authorization"] = "Bearer " .. it[2] end
    reqs[k] = wrk.format("GET", it[1], h)
  end
  i = math.random(#reqs)
end
request = function()
  i = i %% #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p95_us\\": %%d, " ..
    "\\"p99_us\\": %%d, \\"status\\": %%d, \\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"timeout\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk(base: str, items: list[tuple[str, str]], *, concurrency: int, seconds: float) -> dict[str, Any]:
    """GET each (path, token) in turn from wrk's connections; p50/p95/p99 from its histogram."""
    table = "{" + ", ".join("{" + _lua_string(p) + ", " + _lua_string(t) + "}" for p, t in items) + "}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="duban-bench-", delete=False) as f:
        f.write(LUA % {"items": table})
        script = f.name
    try:
        threads = max(1, min(2, concurrency))
        proc = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                script,
                base + items[0][0],
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script)
    m = re.search(r"WRKJSON (\{.*\})", proc.stdout)
    if not m:
        raise RuntimeError(f"wrk printed no figures: {proc.stdout}\n{proc.stderr}")
    d = json.loads(m.group(1))
    secs = d["duration_us"] / 1e6
    errors = {
        k: d[k] for k in ("status", "connect", "read", "write", "timeout") if d[k]
    }  # status: non-2xx/3xx answers
    ok = d["requests"] - d["status"]
    return {
        "ops": ok,
        "seconds": round(secs, 2),
        "per_second": round(ok / secs, 1) if secs else 0.0,
        "p50_ms": round(d["p50_us"] / 1000, 1),
        "p95_ms": round(d["p95_us"] / 1000, 1),
        "p99_ms": round(d["p99_us"] / 1000, 1),
        "requests": d["requests"],
        "errors": errors,
        "concurrency": concurrency,
        "client": f"wrk -t{threads} -c{concurrency}",
    }


def get_workload(
    base: str, items: list[tuple[str, str]], *, concurrency: int, seconds: float, use_wrk: bool
) -> dict[str, Any]:
    """A GET workload through wrk, or the thread client when wrk is missing or not wanted."""
    if use_wrk and have_wrk():
        return wrk(base, items, concurrency=concurrency, seconds=seconds)
    order = items[:]
    random.shuffle(order)
    counter = iter(range(10**12))

    def op(c: Http) -> bool:
        path, token = order[next(counter) % len(order)]
        status, _ = c.call("GET", path, token=token or None)
        return 200 <= status < 300

    return drive(base, op, concurrency=concurrency, seconds=seconds)


# --- py-spy --------------------------------------------------------------------------------------

# py-spy names a file relative to its sys.path entry: the project's own code is under these.
OWN = ("api/", "duban/", "notifier/", "plandoc/")
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]+?)(?::\d+)?\)$")


def have_py_spy() -> bool:
    return (BIN / "py-spy").exists() or shutil.which("py-spy") is not None


class Profiler:
    """py-spy on a process and its children (the api's workers) while a workload runs.

    The summary: the share of samples in which each of the project's own functions is on the stack
    (inclusive), and the functions most often at the top of the stack (self), with their file.
    """

    def __init__(self, pid: int, seconds: float | None, label: str, rate: int = 97) -> None:
        exe = str(BIN / "py-spy") if (BIN / "py-spy").exists() else "py-spy"
        self.out = Path(tempfile.gettempdir()) / f"duban-bench-profile-{label}-{pid}.txt"
        args = [exe, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", str(rate)]
        if seconds:
            args += ["--duration", str(max(1, round(seconds)))]
        self.proc = subprocess.Popen(
            [*args, "--format", "raw", "--output", str(self.out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def summary(self, top: int = 12) -> dict[str, Any]:
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if not self.out.exists():
            return {"error": "py-spy wrote nothing (ptrace not permitted?)"}
        inclusive: Counter[str] = Counter()
        leaf: Counter[str] = Counter()
        total = 0
        for line in self.out.read_text(errors="replace").splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            total += count
            frames = [_FRAME.match(f.strip()) for f in stack.split(";")[1:]]  # [0]: the process
            names = [(f"{m['fn']} ({m['file']})", m["file"]) for m in frames if m]
            if not names:
                continue
            leaf[names[-1][0]] += count
            for name in {n for n, file in names if file.startswith(OWN)}:
                inclusive[name] += count
        if not total:
            return {"samples": 0}

        def share(c: Counter[str]) -> list[tuple[str, float]]:
            return [(k, round(v / total, 3)) for k, v in c.most_common(top)]

        return {
            "samples": total,
            "own_inclusive": share(inclusive),
            "self": share(leaf),
            "raw": str(self.out),
        }
