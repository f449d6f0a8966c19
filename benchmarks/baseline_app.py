"""The yardstick: the same data through bare psycopg, rows straight into orjson, no framework.

Run as `uvicorn benchmarks.baseline_app:app` with BASELINE_DSN in the environment. Routes:

    GET  /             BASELINE_SQL if set (bench_list.py), else the trivial answer
    GET  /trivial      {"ok": true}: the server's floor (uvicorn + this ASGI function)
    GET  /list?unit=U  a unit's open assignments, 100 a page, in the api's default order and columns
    GET  /detail?id=N  one assignment with its plan, task and unit (one query) and its history (one)
    GET  /dashboard?plan=P  a plan's counts by state, overdue and this month's reports (one query)
    POST /progress     {"assignment_id", "user_id"}: the writes of accept + report + submit (the
                       assignment row, this month's report, two audit entries, two outbox events)
                       as one transaction
    POST /create       {"plan_id", "section_id", "unit_id", "code"}: a task, its unit, its assignment, two audit
                       entries and an outbox event, one transaction
    POST /hook         a webhook receiver: reads the body, answers 204

Every database route takes a connection from a small async pool (BASELINE_POOL per worker,
default 4) and awaits the query: the least a Python server can do for the same result.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import psycopg
from psycopg.rows import dict_row

_DSN = os.environ.get("BASELINE_DSN", "")
_SQL = os.environ.get("BASELINE_SQL")
_POOL_SIZE = int(os.environ.get("BASELINE_POOL", "4"))
_pool: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None
_legacy: psycopg.Connection[Any] | None = None

OPEN = ["assigned", "accepted", "returned", "completion_requested"]
COLUMNS = """
    a.id, a.plan_id, p.title AS plan_title, a.section_id, a.task_id, t.code AS task_code,
    t.title AS task_title, a.unit_id, u.name AS unit_name, a.role, a.period, a.state, a.due_date,
    a.due_at, a.original_due_date, a.assigned_at, a.accepted_at, a.completion_requested_at,
    a.completed_at, a.cancelled_at, a.percent_done, a.last_reason, a.extension_count,
    a.external_source_id, a.external_id, a.overdue_from, a.version, a.created_at, a.updated_at,
    p.timezone
"""
FROM = "FROM assignment a JOIN task t ON t.id = a.task_id JOIN unit u ON u.id = a.unit_id JOIN plan p ON p.id = a.plan_id"
LIST_SQL = f"""
    SELECT {COLUMNS}, coalesce(a.due_date, '9999-12-31') AS due_sort {FROM}
    WHERE a.unit_id = %(unit)s AND a.state = ANY(%(states)s)
    ORDER BY coalesce(a.due_date, '9999-12-31'), a.id LIMIT 101
"""
DETAIL_SQL = f"SELECT {COLUMNS} {FROM} WHERE a.id = %(id)s"
HISTORY_SQL = """
    SELECT id, at, actor_id, actor_name, action, before, after FROM audit_entry
    WHERE entity_type = 'assignment' AND entity_id = %(id)s ORDER BY id
"""
DASHBOARD_SQL = """
    SELECT a.state, count(*) AS n,
           count(*) FILTER (WHERE a.due_at < now() AND a.state = ANY(%(states)s)) AS overdue,
           count(r.id) AS reported
    FROM assignment a
    LEFT JOIN progress_report r ON r.assignment_id = a.id AND r.period = to_char(now(), 'YYYY-MM')
    WHERE a.plan_id = %(plan)s GROUP BY a.state
"""
PROGRESS_SQL = [
    # Any assignment, any number of times (the api's side needs a fresh `assigned` one each time):
    # the same row update, and an upsert where the api inserts this month's report.
    """UPDATE assignment SET accepted_at = %(now)s, version = version + 1, updated_at = %(now)s
       WHERE id = %(assignment_id)s RETURNING id, unit_id, plan_id, percent_done""",
    """INSERT INTO progress_report (assignment_id, unit_id, plan_id, period, text, percent_done, state,
       author_id, submitted_at, indicator_values, version, created_at, updated_at)
       VALUES (%(assignment_id)s, %(unit_id)s, %(plan_id)s, to_char(%(now)s::timestamptz, 'YYYY-MM'),
               %(text)s, %(percent_done)s, 'submitted', %(user_id)s, %(now)s, '[]', 1, %(now)s, %(now)s)
       ON CONFLICT (assignment_id, period) DO UPDATE SET text = excluded.text,
           version = progress_report.version + 1, updated_at = excluded.updated_at
       RETURNING id""",
    """INSERT INTO audit_entry (at, actor_id, action, entity_type, entity_id, after, prev_hash, hash, scheme)
       VALUES (%(now)s, %(user_id)s, 'assignment.accept', 'assignment', %(assignment_id)s::text,
               '{"state": "accepted"}', %(nonce)s::text, md5(%(nonce)s::text || 'a') || md5(%(nonce)s::text || 'b'), 2),
              (%(now)s, %(user_id)s, 'report.submit', 'progress_report', %(report_id)s::text,
               '{"state": "submitted"}', %(nonce)s::text, md5(%(nonce)s::text || 'c') || md5(%(nonce)s::text || 'd'), 2)""",
    """INSERT INTO outbox_event (message_id, type, dedupe_key, payload, plan_id, assignment_id, unit_id,
       created_at) VALUES
       ('msg_' || %(nonce)s::text || 'a', 'assignment.accepted', 'base:a:' || %(nonce)s::text, '{}', %(plan_id)s,
        %(assignment_id)s, %(unit_id)s, %(now)s),
       ('msg_' || %(nonce)s::text || 'r', 'report.submitted', 'base:r:' || %(nonce)s::text, '{}', %(plan_id)s,
        %(assignment_id)s, %(unit_id)s, %(now)s)""",
]
CREATE_SQL = [
    """INSERT INTO task (plan_id, section_id, code, title, tags, position, version, created_at, updated_at)
       VALUES (%(plan_id)s, %(section_id)s, %(code)s::text, %(title)s, '[]', 0, 1, %(now)s, %(now)s)
       RETURNING id""",
    """INSERT INTO task_unit (task_id, role, unit_id, position) VALUES (%(task_id)s, 'lead', %(unit_id)s, 0)""",
    """INSERT INTO assignment (plan_id, section_id, task_id, unit_id, role, period, state, assigned_at,
       percent_done, extension_count, version, created_at, updated_at)
       VALUES (%(plan_id)s, %(section_id)s, %(task_id)s, %(unit_id)s, 'lead', '', 'assigned', %(now)s, 0, 0, 1, %(now)s, %(now)s)
       RETURNING id""",
    """INSERT INTO audit_entry (at, actor_id, action, entity_type, entity_id, after, prev_hash, hash, scheme)
       VALUES (%(now)s, 2, 'task.create', 'task', %(task_id)s::text, '{}', %(code)s::text, md5(%(code)s::text) || md5(%(code)s::text), 2),
              (%(now)s, 2, 'assignment.assign', 'assignment', %(id)s::text, '{}', %(code)s::text,
               md5(%(code)s::text || 'x') || md5(%(code)s::text || 'y'), 2)""",
    """INSERT INTO outbox_event (message_id, type, dedupe_key, payload, plan_id, assignment_id, unit_id,
       created_at) VALUES ('msg_' || %(code)s::text, 'assignment.assigned', 'base:c:' || %(code)s::text, '{}',
       %(plan_id)s, %(id)s, %(unit_id)s, %(now)s)""",
]


async def _connections() -> asyncio.Queue[psycopg.AsyncConnection[Any]]:
    global _pool
    if _pool is None:
        pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        for _ in range(_POOL_SIZE):
            pool.put_nowait(
                await psycopg.AsyncConnection.connect(_DSN, row_factory=dict_row, autocommit=True)
            )
        _pool = pool
    return _pool


async def _read(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    pool = await _connections()
    conn = await pool.get()
    try:
        cur = await conn.execute(sql, params)
        return await cur.fetchall()
    finally:
        pool.put_nowait(conn)


async def _write(statements: list[str], params: dict[str, Any], keys: list[str | None]) -> dict[str, Any]:
    """Run statements in one transaction; a RETURNING row's first column goes into params[key]."""
    pool = await _connections()
    conn = await pool.get()
    try:
        async with conn.transaction():
            for sql, key in zip(statements, keys, strict=True):
                cur = await conn.execute(sql, params)
                if cur.description is not None:
                    row = await cur.fetchone()
                    if row is None:
                        raise LookupError("no row")
                    params.update({k: v for k, v in row.items() if k != "id"})
                    if key:
                        params[key] = row["id"]
        return params
    finally:
        pool.put_nowait(conn)


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Any, status: int, body: bytes = b"") -> None:
    headers = [(b"content-type", b"application/json")] if body else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _legacy
    if scope["type"] != "http":
        return
    path = scope["path"]
    q = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
    if path == "/" and _SQL:
        # bench_list.py's form: one connection queried inline on the event loop.
        if _legacy is None:
            _legacy = psycopg.connect(_DSN, row_factory=dict_row, autocommit=True)
        rows = _legacy.execute(_SQL).fetchall()
        await _send(send, 200, orjson.dumps({"items": rows, "next_cursor": None}))
    elif path in ("/", "/trivial"):
        await _send(send, 200, b'{"ok":true}')
    elif path == "/hook":
        await _body(receive)
        await _send(send, 204)
    elif path == "/list":
        rows = await _read(LIST_SQL, {"unit": int(q["unit"]), "states": OPEN})
        for r in rows:
            r.pop("due_sort")
        more = len(rows) > 100
        await _send(send, 200, orjson.dumps({"items": rows[:100], "next_cursor": "more" if more else None}))
    elif path == "/detail":
        params = {"id": int(q["id"])}
        rows = await _read(DETAIL_SQL, params)
        if not rows:
            await _send(send, 404, b'{"error":"not found"}')
            return
        body = rows[0]
        body["history"] = await _read(HISTORY_SQL, {"id": q["id"]})
        await _send(send, 200, orjson.dumps(body))
    elif path == "/dashboard":
        rows = await _read(DASHBOARD_SQL, {"plan": int(q["plan"]), "states": OPEN})
        await _send(send, 200, orjson.dumps({"states": rows}))
    elif path in ("/progress", "/create") and scope["method"] == "POST":
        data = orjson.loads(await _body(receive))
        now = datetime.now(UTC)
        if path == "/progress":
            params = {
                **data,
                "now": now,
                "text": "按计划推进",
                "nonce": f"{data['assignment_id']}-{now.timestamp()}",
            }
            params = {**params, "percent_done": 0, "unit_id": 0, "plan_id": 0, "report_id": None}
            try:
                out = await _write(PROGRESS_SQL, params, [None, "report_id", None, None])
            except LookupError:
                await _send(send, 409, b'{"error":"not assigned"}')
                return
        else:
            params = {**data, "now": now, "title": "基准任务：推进重点项目建设", "task_id": None, "id": None}
            out = await _write(CREATE_SQL, params, ["task_id", None, "id", None, None])
        await _send(send, 201, orjson.dumps({"id": out.get("report_id") or out.get("id")}))
    else:
        await _send(send, 404, b'{"error":"no route"}')
