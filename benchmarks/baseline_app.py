"""The yardstick for list endpoints: one bare psycopg query, rows straight into orjson.

Run by bench_list.py as `uvicorn benchmarks.baseline_app:app`; BASELINE_DSN and BASELINE_SQL
come from the environment so both servers run the same query on the same database.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

# One connection, queried inline on the event loop: the cheapest possible way to serve it.
_conn = psycopg.connect(os.environ["BASELINE_DSN"], row_factory=dict_row, autocommit=True)
_sql = os.environ["BASELINE_SQL"]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    rows = _conn.execute(_sql).fetchall()
    body = orjson.dumps({"items": rows, "next_cursor": None})
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})
