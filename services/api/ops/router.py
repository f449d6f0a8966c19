from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import Response

from api.deps import default_session_factory
from api.errors import DATABASE_RETRY_AFTER, ErrorEnvelope, error_response
from api.http import json_response
from duban.settings import get_settings

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> Any:
    """The process is alive."""
    return json_response({"status": "ok"})


@router.get("/readyz", responses={503: {"model": ErrorEnvelope}})
async def readyz(request: Request) -> Any:
    """The database answers (within DUBAN_READYZ_TIMEOUT_SECONDS)."""
    factory = getattr(request.app.state, "session_factory", default_session_factory)

    def probe() -> None:
        with factory() as session:
            session.execute(text("SELECT 1"))

    error = "timeout"
    with anyio.move_on_after(get_settings().readyz_timeout_seconds):
        try:
            # Abandoned on timeout: the probe's own wait is bounded by the connection timeouts.
            await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
        except Exception as exc:  # any driver error means not ready
            error = type(exc).__name__
        else:
            return json_response({"status": "ready"})
    return error_response(
        503,
        "database.unavailable",
        "数据库不可用",
        {"error": error, "retry_after": DATABASE_RETRY_AFTER},
        {"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
