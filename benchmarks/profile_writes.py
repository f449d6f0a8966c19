"""Round trips and statements per write request, counted with SQLAlchemy event listeners.

Drives the real app in-process (TestClient, the production engine and session factory) on a
throwaway PostgreSQL (or SQLite) database and prints, per request kind, the statements sent and
the round trips they cost (statements + BEGIN + COMMIT/ROLLBACK), with the SQL of one request.

    .venv/bin/python benchmarks/profile_writes.py [--sqlite] [--n 20] [--sql]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import event  # noqa: E402

ADMIN = os.environ.get("DUBAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class Counting:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.tx = 0

    def reset(self) -> None:
        self.statements = []
        self.tx = 0

    def attach(self, engine: Any) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
            self.statements.append(" ".join(statement.split())[:160])

        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, lambda *_a: self._tx())

    def _tx(self) -> None:
        self.tx += 1


def seed(url: str) -> dict[str, Any]:
    from sqlmodel import Session

    from duban.db import make_engine
    from duban.models import Plan, Role, Unit, UnitKind, User

    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        units = [Unit(name=f"单位{i}", kind=UnitKind.department) for i in range(8)]
        s.add_all(units)
        s.flush()
        office = User(username="office", roles=[str(Role.office)])
        heads = [
            User(username=f"head{i}", roles=[str(Role.unit_head)], unit_id=u.id) for i, u in enumerate(units)
        ]
        s.add_all([office, *heads])
        plan = Plan(title="基准计划", period_start=date(2025, 1, 1), period_end=date(2026, 12, 31))
        s.add(plan)
        s.commit()
        out = {"plan": plan.id, "units": [u.id for u in units], "office": office, "heads": heads}
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--bulk", type=int, default=0, help="also one bulk request of this many tasks")
    parser.add_argument("--sql", action="store_true", help="print the statements of one request each")
    args = parser.parse_args()
    name = f"duban_prof_{uuid.uuid4().hex[:8]}"
    if args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='writes-prof-')}/p.db"
    else:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = ADMIN.rsplit("/", 1)[0] + "/" + name
    os.environ["DUBAN_DATABASE_URL"] = url
    try:
        run(url, args)
    finally:
        if not args.sqlite:
            from duban.db import get_engine

            get_engine().dispose()
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.security import create_access_token
    from duban import migrate
    from duban.db import get_engine
    from duban.settings import get_settings

    migrate.upgrade(url)
    data = seed(url)
    settings = get_settings()
    now = datetime.now(UTC)

    def headers(user: Any) -> dict[str, str]:
        token, _ = create_access_token(
            subject=user.id, generation=user.token_generation, roles=user.roles, settings=settings, now=now
        )
        return {"Authorization": f"Bearer {token}"}

    office = headers(data["office"])
    heads = [headers(h) for h in data["heads"]]
    counting = Counting()
    counting.attach(get_engine())
    app = create_app()
    kinds: dict[str, list[tuple[int, int, float]]] = {}
    samples: dict[str, list[str]] = {}

    def call(kind: str, method: str, path: str, hdrs: dict[str, str], body: Any = None) -> Any:
        counting.reset()
        t0 = time.perf_counter()
        r = client.request(method, path, headers=hdrs, json=body)
        dt = time.perf_counter() - t0
        assert r.status_code < 300, (path, r.status_code, r.text)
        kinds.setdefault(kind, []).append(
            (len(counting.statements), len(counting.statements) + counting.tx, dt)
        )
        samples.setdefault(kind, list(counting.statements))
        return r.json()

    with TestClient(app) as client:
        for i in range(args.n):
            unit = data["units"][i % 8]
            task = call(
                "create task",
                "POST",
                "/api/v1/tasks",
                office,
                {
                    "plan_id": data["plan"],
                    "code": f"{i + 1}",
                    "title": f"基准任务{i}",
                    "due_date": "2026-06-30",
                    "units": [{"role": "lead", "unit_id": unit}],
                },
            )
            created = call("assign (交办)", "POST", f"/api/v1/tasks/{task['id']}/assignments", office, {})
            a = created["created"][0]
            h = heads[i % 8]
            call("accept", "POST", f"/api/v1/assignments/{a['id']}/accept", h, {})
            rep = call(
                "report",
                "POST",
                f"/api/v1/assignments/{a['id']}/reports",
                h,
                {"text": "进展顺利", "percent_done": 50},
            )
            call("submit", "POST", f"/api/v1/reports/{rep['id']}/submit", h)
        for i in range(args.n):
            unit = data["units"][i % 8]
            task = call(
                "task + assign",
                "POST",
                "/api/v1/tasks",
                office,
                {
                    "plan_id": data["plan"],
                    "code": f"A{i + 1}",
                    "title": f"基准任务A{i}",
                    "due_date": "2026-06-30",
                    "units": [{"role": "lead", "unit_id": unit}],
                    "assign": True,
                },
            )
            aid = client.get(f"/api/v1/assignments?task_id={task['id']}", headers=office).json()["items"][0][
                "id"
            ]
            h = heads[i % 8]
            client.post(f"/api/v1/assignments/{aid}/accept", headers=h, json={})
            call(
                "report + submit",
                "POST",
                f"/api/v1/assignments/{aid}/reports",
                h,
                {"text": "进展顺利", "percent_done": 50, "submit": True},
            )
        if args.bulk:
            items = [
                {
                    "external_id": f"OA-{k}",
                    "plan_id": data["plan"],
                    "code": f"B{k}",
                    "title": f"基准任务B{k}",
                    "due_date": "2026-06-30",
                    "units": [{"role": "lead", "unit_id": data["units"][k % 8]}],
                    "assign": True,
                }
                for k in range(args.bulk)
            ]
            call(f"bulk of {args.bulk}", "POST", "/api/v1/bulk/tasks", office, {"items": items})
    print(f"{'request':16} {'statements':>10} {'round trips':>12} {'ms (median)':>12}")
    for kind, rows in kinds.items():
        stmts = Counter(r[0] for r in rows).most_common(1)[0][0]
        trips = Counter(r[1] for r in rows).most_common(1)[0][0]
        ms = sorted(r[2] for r in rows)[len(rows) // 2] * 1000
        print(f"{kind:16} {stmts:>10} {trips:>12} {ms:>12.1f}")
    if args.sql:
        for kind, stmts in samples.items():
            print(f"\n== {kind}")
            for s in stmts:
                print("  ", s)


if __name__ == "__main__":
    main()
