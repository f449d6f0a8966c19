from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import Response

from api.deps import default_session_factory
from api.errors import ErrorEnvelope, error_response
from api.http import json_response

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> Any:
    """The process is alive."""
    return json_response({"status": "ok"})


@router.get("/readyz", responses={503: {"model": ErrorEnvelope}})
def readyz(request: Request) -> Any:
    """The database answers."""
    factory = getattr(request.app.state, "session_factory", default_session_factory)
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return error_response(503, "database.unavailable", "数据库不可用", {"error": type(exc).__name__})
    return json_response({"status": "ready"})


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
