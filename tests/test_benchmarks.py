"""The benchmark suite must not rot: generate a tiny data set, drive every kind of workload briefly.

Figures are not asserted (they belong in docs/performance.md); what is asserted is that the
generated data is what the app's queries expect and that each workload's path through the real
servers — reads, multi-call writes, the notifier's scan and delivery, the bare yardstick — completes
operations without a server error. PostgreSQL only (COPY, the bare server's SQL).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import psycopg
import pytest

from tests.conftest import BACKENDS, PG_ADMIN_URL, _pg_available

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    "postgresql" not in BACKENDS or not _pg_available(), reason="the benchmarks run on PostgreSQL"
)


@pytest.fixture(scope="module")
def tiny() -> object:
    from benchmarks import generate

    name = f"duban_bench_test_{uuid.uuid4().hex[:8]}"
    result = generate.generate(
        name, scale=generate.SCALES["tiny"], today=date(2026, 3, 10), log=lambda m: None
    )
    yield name, result
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_generated_data_fits_the_app(tiny: tuple[str, dict[str, object]]) -> None:
    from benchmarks import generate

    name, result = tiny
    counts = result["counts"]
    assert isinstance(counts, dict)
    assert counts["assignment"] == 1200 and counts["unit"] == 12 and counts["user_account"] == 23
    with psycopg.connect(generate.db_url(name)) as c:

        def one(sql: str) -> int:
            row = c.execute(sql).fetchone()
            assert row is not None
            return int(row[0])

        # Every state appears; past-due work is mostly done, some still open (overdue).
        states = dict(c.execute("SELECT state, count(*) FROM assignment GROUP BY state").fetchall())
        assert set(states) >= {"assigned", "accepted", "completion_requested", "completed", "returned"}
        assert one("SELECT count(*) FROM assignment WHERE due_date < '2026-03-10' AND state = 'accepted'") > 0
        # Due dates are working days; due_at is the end of the due day in Shanghai.
        assert one("SELECT count(*) FROM assignment WHERE extract(isodow FROM due_date) > 5") == 0
        end_of_day = "(due_date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'"
        assert one(f"SELECT count(*) FROM assignment WHERE due_at <> {end_of_day}") == 0
        # Reports only for accepted work, none for the current month, by the unit's own head (the
        # generated ones: the other test may have added some).
        assert counts["progress_report"] > 4000
        generated = f"r.id <= {counts['progress_report']}"
        assert not one(
            "SELECT count(*) FROM progress_report r JOIN assignment a ON a.id = r.assignment_id "
            f"WHERE {generated} AND (a.state = 'cancelled' OR a.accepted_at IS NULL OR r.period >= '2026-03')"
        )
        assert not one(
            "SELECT count(*) FROM progress_report r JOIN user_account u ON u.id = r.author_id "
            f"WHERE {generated} AND (u.unit_id <> r.unit_id OR u.username NOT LIKE '%\\_head')"
        )
        # Sequences follow the copied ids: the next insert does not collide.
        new = one(
            "INSERT INTO unit (name, kind, is_active, version, created_at, updated_at) "
            "VALUES ('新单位', 'department', true, 1, now(), now()) RETURNING id"
        )
        assert new == 13
        c.rollback()
        # One 交办 audit entry per assignment, the head of its chain.
        assert (
            one("SELECT count(DISTINCT entity_id) FROM audit_entry WHERE entity_type = 'assignment'") == 1200
        )


def test_run_drives_every_kind_of_workload(tiny: tuple[str, dict[str, object]], tmp_path: Path) -> None:
    name, _ = tiny
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            *("--db", name, "--reuse", "--seconds", "0.5", "--warmup", "0", "--concurrency", "2"),
            *(
                "--workers",
                "1",
                "--no-wrk",
                "--deliveries",
                "20",
                "--fan-out-seconds",
                "1",
                "--out",
                str(out),
            ),
            *("--only", "list,progress,create,scan,delivery"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    w = results["workloads"]
    assert set(w) == {"list", "progress", "create", "scan", "delivery"}
    for kind in ("list", "progress", "create"):
        for side in ("duban", "limit"):
            assert w[kind][side]["ops"] > 0, (kind, side, w[kind][side])
            assert not [s for s in w[kind][side]["errors"] if s.startswith("5") or s.startswith("error")]
        assert w[kind]["ratio"] > 0
    assert w["scan"]["duban"]["first_notices"] > 0 and w["scan"]["duban"]["repeat_notices"] == 0
    assert w["delivery"]["duban"]["deliveries"] == 20 and w["delivery"]["limit"]["failed"] == 0
    assert "| a unit's open assignments, 100 a page |" in proc.stdout
