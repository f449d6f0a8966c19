"""Load a county's or a province's supervision data into a fresh, migrated PostgreSQL database.

    .venv/bin/python benchmarks/generate.py --scale county [--db duban_county] [--drop]
    .venv/bin/python benchmarks/generate.py --scale province --db duban_province

Scales (assignments are one-off, 20 units per task: a lead and co-organisers):

    tiny      12 units,      2 plans,     120 tasks,     1,200 assignments,    6,000 reports
    county    200 units,    20 plans,   2,500 tasks,    50,000 assignments,  500,000 reports
    province  20,000 units, 500 plans, 250,000 tasks, 5,000,000 assignments, 5,000,000 reports

Every unit has a head (`u<id>_head`, unit_head) and a clerk (`u<id>_staff`, unit_staff); unit 1 is
the office (督查室) with `bench_office` (office) and `bench_admin` (admin); every password is
`Bench-Passw0rd`. Plans run from a year before `--today` to a year after it, monthly reports due on
the 25th; due dates spread from 300 days ago to 240 days ahead (moved off weekends). Past-due work
is mostly completed, some of it still open (overdue); work ahead is assigned, accepted or waiting
for the office's approval. Reports: one per month up to last month for every assignment the unit
has accepted (the older ones approved, last month's submitted), none for the current month, so a
benchmark can submit this month's. One audit entry per assignment (its 交办), chained and hashed
as the unit of work writes them.

Rows go in with COPY (psycopg `cursor.copy`), secondary indexes dropped during the load and
rebuilt after it, then VACUUM ANALYZE. The database is created (it must not exist unless `--drop`)
and migrated with `duban db upgrade`'s code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import psycopg  # noqa: E402

ADMIN_URL = os.environ.get("DUBAN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Bench-Passw0rd"
ZONE = ZoneInfo("Asia/Shanghai")
PER_TASK = 20  # units per task


@dataclass(frozen=True)
class Scale:
    units: int
    plans: int
    tasks: int
    assignments: int
    reports: int


SCALES = {
    "tiny": Scale(units=12, plans=2, tasks=120, assignments=1_200, reports=6_000),
    "county": Scale(units=200, plans=20, tasks=2_500, assignments=50_000, reports=500_000),
    "province": Scale(units=20_000, plans=500, tasks=250_000, assignments=5_000_000, reports=5_000_000),
}

OPEN = ("assigned", "accepted", "returned", "completion_requested")
REPORTED = ("accepted", "returned", "completion_requested", "completed")
KINDS = ("department", "department", "town", "street")  # cycled for units 3..N


def db_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _working(d: date) -> date:
    """Saturday and Sunday move to Monday (holidays are left to the calendar's warnings)."""
    wd = d.weekday()
    return d + timedelta(days=7 - wd) if wd >= 5 else d


def _end_of_day(d: date) -> datetime:
    return datetime.combine(d + timedelta(days=1), dtime(0), ZONE).astimezone(UTC)


def _months_before(today: date, n: int) -> list[tuple[str, date]]:
    """The n months before today's month, oldest first: (key, report due date on the 25th)."""
    out = []
    y, m = today.year, today.month
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append((f"{y:04d}-{m:02d}", _working(date(y, m, 25))))
    return out[::-1]


class Loader:
    """Writes one scale's rows with COPY; ids are assigned here, sequences set afterwards."""

    def __init__(self, conn: psycopg.Connection[Any], scale: Scale, today: date, log: Any = print) -> None:
        self.conn = conn
        self.s = scale
        self.today = today
        self.now = datetime.combine(today, dtime(9), ZONE).astimezone(UTC)
        self.published = self.now - timedelta(days=330)
        self.log = log
        self.counts: dict[str, int] = {}

    def copy(self, table: str, columns: tuple[str, ...], rows: Any) -> int:
        n = 0
        cols = ", ".join(f'"{c}"' for c in columns)
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
                n += 1
        self.counts[table] = self.counts.get(table, 0) + n
        return n

    # --- reference data ---------------------------------------------------------------------

    def units(self) -> Any:
        now = self.published
        yield (1, "县委县政府督查室", "督查室", "office", None, "U0001", True, 1, now, now)
        yield (2, "县委县政府领导", "县领导", "leadership", None, "U0002", True, 1, now, now)
        for i in range(3, self.s.units + 1):
            kind = KINDS[i % len(KINDS)]
            label = {"department": "局", "town": "镇", "street": "街道"}[kind]
            yield (i, f"基准{label}{i:05d}", f"{label}{i}", kind, None, f"U{i:05d}", True, 1, now, now)

    def users(self, password_hash: str) -> Any:
        now = self.published
        uid = 0

        def user(name: str, full: str, unit: int | None, roles: list[str]) -> tuple[Any, ...]:
            nonlocal uid
            uid += 1
            return (
                uid,
                name,
                full,
                unit,
                orjson.dumps(roles).decode(),
                password_hash,
                True,
                False,
                0,
                1,
                now,
                now,
            )

        yield user("bench_admin", "系统管理员", 1, ["admin"])
        yield user("bench_office", "督查室科员", 1, ["office"])
        yield user("bench_leader", "县领导", 2, ["leader"])
        for u in range(3, self.s.units + 1):
            yield user(f"u{u}_head", f"单位{u}负责人", u, ["unit_head"])
            yield user(f"u{u}_staff", f"单位{u}联络员", u, ["unit_staff"])

    def plans(self) -> Any:
        start, end = self.today - timedelta(days=365), self.today + timedelta(days=365)
        for p in range(1, self.s.plans + 1):
            yield (
                p,
                f"基准县{p}号重点工作行动计划（{start.year}—{end.year}年）",
                f"基办发〔{start.year}〕{p}号",
                "县委办公室 县政府办公室",
                start,
                start,
                end,
                "Asia/Shanghai",
                "monthly",
                25,
                "published",
                self.published,
                1,
                self.published,
                self.published,
            )

    def sections(self) -> Any:
        for p in range(1, self.s.plans + 1):
            for k in range(5):
                sid = (p - 1) * 5 + k + 1
                yield (
                    sid,
                    p,
                    "一二三四五"[k],
                    f"重点任务{'一二三四五'[k]}",
                    k,
                    1,
                    self.published,
                    self.published,
                )

    def _task_of(self, t: int) -> tuple[int, int, date]:
        """Task index (0-based) → plan id, section id, due date."""
        per_plan = -(-self.s.tasks // self.s.plans)
        plan = t // per_plan + 1
        section = (plan - 1) * 5 + (t % per_plan) * 5 // per_plan + 1
        due = _working(self.today + timedelta(days=(t * 131) % 540 - 300))
        return plan, section, due

    def tasks(self) -> Any:
        per_plan = -(-self.s.tasks // self.s.plans)
        for t in range(self.s.tasks):
            plan, section, due = self._task_of(t)
            yield (
                t + 1,
                plan,
                section,
                str(t % per_plan + 1),
                f"任务{t + 1}：推进重点项目建设，完成年度目标的阶段性任务",
                due,
                "[]",
                t % per_plan,
                1,
                self.published,
                self.published,
            )

    def _unit_of(self, t: int, k: int) -> int:
        return 3 + (t * 7919 + k) % (self.s.units - 2)

    def task_units(self) -> Any:
        for n in range(self.s.assignments):
            t, k = n % self.s.tasks, n // self.s.tasks
            yield (n + 1, t + 1, "lead" if k == 0 else "co", self._unit_of(t, k), k)

    # --- assignments, reports, audit --------------------------------------------------------

    def _state(self, n: int, due: date) -> str:
        h = (n * 2654435761) % 100
        if due < self.today:
            if h < 75:
                return "completed"
            if h < 80:
                return "cancelled"
            return ("assigned", "accepted", "accepted", "accepted", "completion_requested", "returned")[h % 6]
        if h < 20:
            return "assigned"
        if h < 80:
            return "accepted"
        return "completion_requested" if h < 90 else "completed"

    def assignment_rows(self) -> Any:
        """(row for COPY, state) per assignment; ids 1..A in task-major order."""
        pub = self.published
        for n in range(self.s.assignments):
            t, k = n % self.s.tasks, n // self.s.tasks
            plan, section, due = self._task_of(t)
            state = self._state(n, due)
            accepted = pub + timedelta(days=3) if state != "assigned" else None
            requested = (
                _end_of_day(due) - timedelta(days=2)
                if state in ("completion_requested", "completed")
                else None
            )
            completed = requested + timedelta(hours=20) if state == "completed" and requested else None
            cancelled = pub + timedelta(days=40) if state == "cancelled" else None
            if cancelled is not None:
                accepted = None
            pct = 100 if state == "completed" else (n * 37) % 90
            yield (
                (
                    n + 1,
                    plan,
                    section,
                    t + 1,
                    self._unit_of(t, k),
                    "lead" if k == 0 else "co",
                    "",
                    state,
                    due,
                    _end_of_day(due),
                    due,
                    pub,
                    accepted,
                    requested,
                    completed,
                    cancelled,
                    pct,
                    "情况有变，需重新研判" if state == "returned" else None,
                    0,
                    1,
                    pub,
                    completed or requested or accepted or pub,
                ),
                state,
            )

    def load(self, password_hash: str) -> None:
        t0 = time.perf_counter()
        base = ("version", "created_at", "updated_at")
        self.copy(
            "unit",
            ("id", "name", "short_name", "kind", "parent_id", "code", "is_active", *base),
            self.units(),
        )
        self.copy(
            "user_account",
            (
                "id",
                "username",
                "full_name",
                "unit_id",
                "roles",
                "password_hash",
                "is_active",
                "is_service_account",
                "token_generation",
                *base,
            ),
            self.users(password_hash),
        )
        plan_cols = ("id", "title", "doc_no", "issuer", "issued_on", "period_start", "period_end", "timezone")
        self.copy(
            "plan",
            (*plan_cols, "report_cadence", "report_due_day", "state", "published_at", *base),
            self.plans(),
        )
        self.copy("plan_section", ("id", "plan_id", "code", "title", "position", *base), self.sections())
        self.copy(
            "task",
            ("id", "plan_id", "section_id", "code", "title", "due_date", "tags", "position", *base),
            self.tasks(),
        )
        self.copy("task_unit", ("id", "task_id", "role", "unit_id", "position"), self.task_units())
        self.log(f"  reference data: {time.perf_counter() - t0:.1f} s")

        # Assignments, then their reports and their 交办 audit entries: three streaming passes over
        # the same deterministic rows (one COPY at a time on a connection; nothing held in memory).
        t1 = time.perf_counter()
        self.copy("assignment", A_COLS, (row for row, _ in self.assignment_rows()))
        periods = self.report_periods()
        self.copy("progress_report", R_COLS, self.reports(periods))
        self.copy("audit_entry", AU_COLS, self.audit_entries())
        self.log(
            f"  assignments, reports, audit: {time.perf_counter() - t1:.1f} s "
            f"({self.counts['assignment']:,} / {self.counts['progress_report']:,} / "
            f"{self.counts['audit_entry']:,}; {len(periods)} monthly reports each accepted assignment)"
        )

    def report_periods(self) -> list[tuple[str, date]]:
        reportable = sum(1 for _, state, accepted in self._states() if state in REPORTED and accepted)
        months = _months_before(self.today, 24)
        per = max(0, min(len(months), round(self.s.reports / reportable))) if reportable else 0
        return months[len(months) - per :]

    def _states(self) -> Any:
        for row, state in self.assignment_rows():
            yield row, state, row[12] is not None

    def reports(self, periods: list[tuple[str, date]]) -> Any:
        rid = 0
        last = len(periods) - 1
        for row, state, accepted in self._states():
            if state not in REPORTED or not accepted:
                continue
            aid, plan, unit, pct = row[0], row[1], row[4], row[16]
            head = 4 + (unit - 3) * 2  # u<unit>_head's user id
            for i, (key, due) in enumerate(periods):
                rid += 1
                submitted = _end_of_day(due) - timedelta(days=1 + rid % 5)
                yield (
                    rid,
                    aid,
                    unit,
                    plan,
                    key,
                    due,
                    f"{key}：按计划推进，已完成阶段工作，下一步继续抓好落实。",
                    max(0, pct - (last - i) * 5),
                    "submitted" if i == last else "approved",
                    head,
                    submitted,
                    None if i == last else submitted + timedelta(days=2),
                    "[]",
                    1,
                    submitted,
                    submitted,
                )

    def audit_entries(self) -> Any:
        from duban import audit

        at = self.published
        for row, _ in self.assignment_rows():
            aid, unit = row[0], row[4]
            after = {"state": "assigned", "unit_id": unit, "due_date": row[8].isoformat()}
            entry = SimpleNamespace(
                at=at,
                actor_id=2,
                action="assignment.assign",
                entity_type="assignment",
                entity_id=str(aid),
                before=None,
                after=after,
                request_id=None,
                prev_hash=audit.GENESIS,
            )
            yield (
                aid,
                at,
                2,
                "督查室科员",
                "assignment.assign",
                "assignment",
                str(aid),
                orjson.dumps(after).decode(),
                audit.GENESIS,
                audit.compute_hash(entry),  # type: ignore[arg-type]
                audit.ENTITY_CHAIN,
            )


BASE = ("version", "created_at", "updated_at")
A_COLS = (
    "id",
    "plan_id",
    "section_id",
    "task_id",
    "unit_id",
    "role",
    "period",
    "state",
    "due_date",
    "due_at",
    "original_due_date",
    "assigned_at",
    "accepted_at",
    "completion_requested_at",
    "completed_at",
    "cancelled_at",
    "percent_done",
    "last_reason",
    "extension_count",
    *BASE,
)
R_COLS = (
    "id",
    "assignment_id",
    "unit_id",
    "plan_id",
    "period",
    "period_due_date",
    "text",
    "percent_done",
    "state",
    "author_id",
    "submitted_at",
    "reviewed_at",
    "indicator_values",
    *BASE,
)
AU_COLS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "entity_type",
    "entity_id",
    "after",
    "prev_hash",
    "hash",
    "scheme",
)
TABLES = (
    "unit",
    "user_account",
    "plan",
    "plan_section",
    "task",
    "task_unit",
    "assignment",
    "progress_report",
)
TABLES = (*TABLES, "audit_entry")


def _secondary_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, definition) of the loaded tables' indexes that back no constraint."""
    rows = conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        """,
        (list(TABLES),),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def generate(
    name: str, *, scale: Scale, today: date | None = None, drop: bool = False, log: Any = print
) -> dict[str, Any]:
    """Create database `name`, migrate it and load `scale`; returns the counts and timings."""
    from api.security import hash_password
    from duban import migrate

    today = today or datetime.now(ZONE).date()
    if scale.assignments > scale.tasks * min(PER_TASK, scale.units - 2):
        raise ValueError("at most 20 units per task, each unit once: more tasks or units needed")
    started = time.perf_counter()
    with psycopg.connect(ADMIN_URL, autocommit=True) as c:
        if drop:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    url = db_url(name)
    migrate.upgrade(url)
    migrated = time.perf_counter() - started
    log(f"  created and migrated {name}: {migrated:.1f} s")
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        indexes = _secondary_indexes(conn)
        for idx, _ in indexes:
            conn.execute(f'DROP INDEX "{idx}"')
        loader = Loader(conn, scale, today, log=log)
        loader.load(hash_password(PASSWORD))
        # The rows stand for an installation's history, which earlier reminder passes saw: the
        # notice_change rows the load's triggers appended (one per assignment and per report, 9 M
        # at province scale) would make the first pass delete them, a cost of bulk loading only.
        conn.execute("TRUNCATE notice_change")
        t2 = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        for table in TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.commit()
        log(f"  {len(indexes)} indexes rebuilt: {time.perf_counter() - t2:.1f} s")
    t3 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    log(f"  VACUUM ANALYZE: {time.perf_counter() - t3:.1f} s")
    total = time.perf_counter() - started
    rows = sum(loader.counts.values())
    return {
        "database": name,
        "today": today.isoformat(),
        "counts": loader.counts,
        "seconds": round(total, 1),
        "rows_per_second": round(rows / total),
        "database_mb": round((size[0] if size else 0) / 2**20),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="county")
    parser.add_argument("--db", help="database name (default duban_<scale>)")
    parser.add_argument("--drop", action="store_true", help="drop the database first if it exists")
    parser.add_argument("--today", type=date.fromisoformat, help="the day the data is relative to")
    for field in ("units", "plans", "tasks", "assignments", "reports"):
        parser.add_argument(f"--{field}", type=int, help=f"override the scale's {field}")
    args = parser.parse_args()
    base = SCALES[args.scale]
    scale = Scale(**{f: getattr(args, f) or getattr(base, f) for f in base.__dataclass_fields__})
    name = args.db or f"duban_{args.scale}"
    print(f"generating {scale} into {name}")
    result = generate(name, scale=scale, today=args.today, drop=args.drop)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
