from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from api import openapi
from api.deps import get_current_user
from api.direct import DirectDispatch, DirectWrites
from api.errors import install_exception_handlers
from api.idempotency import IdempotencyMiddleware
from api.limits import BodyLimitMiddleware
from api.middleware import RequestContextMiddleware
from api.textcheck import TextCheckMiddleware
from duban import calendar_store
from duban.context import current_request_id
from duban.logging import configure_logging
from duban.settings import get_settings

log = logging.getLogger("duban.api")

# Resource routers under /api/v1 behind authentication: (module, attribute). A module that
# does not exist yet is skipped, so resource packages can land one at a time.
AUTHENTICATED_ROUTERS: list[tuple[str, str]] = [
    ("api.unit.router", "router"),
    ("api.unit.router", "groups_router"),
    ("api.unit.router", "aliases_router"),
    ("api.user.router", "router"),
    ("api.auth.router", "accounts_router"),
    ("api.plan.import_router", "router"),
    ("api.plan.router", "router"),
    ("api.task.router", "router"),
    ("api.assignment.router", "router"),
    ("api.bulk.router", "router"),
    ("api.report.router", "router"),
    ("api.indicator.router", "router"),
    ("api.extension.router", "router"),
    ("api.instruction.router", "router"),
    ("api.attachment.router", "router"),
    ("api.audit.router", "router"),
    ("api.webhook.router", "router"),
    ("api.event.router", "router"),
    ("api.notification.router", "router"),
    ("api.notification.router", "policy_router"),
    ("api.notification.router", "delivery_router"),
    ("api.stats.router", "router"),
    ("api.bulletin.router", "router"),
    ("api.assessment.router", "router"),
    ("api.calendar.router", "router"),
]
# The hot reads (api.hotpath): `async def` routes under /api/v1 that authenticate through their own
# dependency (`HotReader`: no threadpool hop, the principal checked in the data statement).
HOT_READ_ROUTERS: list[tuple[str, str, str]] = [
    ("api.assignment.router", "read_router", "/api/v1"),
    ("api.stats.router", "read_router", "/api/v1"),
    # The lean writes (api.writepath): likewise `async def`, authenticated by their `Writer`.
    ("api.assignment.router", "write_router", "/api/v1"),
    ("api.report.router", "write_router", "/api/v1"),
    ("api.task.router", "write_router", "/api/v1"),
]
# Mounted without the blanket authentication dependency (they authenticate themselves or not at all).
PUBLIC_ROUTERS: list[tuple[str, str, str]] = [
    ("api.auth.router", "router", "/api/v1"),
    ("api.board.router", "router", ""),
    ("api.board.router", "api_router", "/api/v1"),
    ("api.workbench.router", "router", ""),
]


# Below ~1 kB gzip saves less than it costs; files that are compressed already are left alone.
GZIP_MIN_BYTES = 1024
GZIP_EXCLUDED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/pdf",
    "application/octet-stream",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/x-rar-compressed",
)


def _unique_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def _load(module: str, attr: str) -> APIRouter | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


# FastAPI would otherwise look up three OpenTelemetry providers on every request.
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json, current_request_id)
    calendar_store.install(settings.calendar_check_seconds)
    # Swagger UI and ReDoc from files in the fastapi-offline package: /docs works on an offline intranet.
    app = FastAPIOffline(
        title="Duban 督办 API",
        version="1.0.0",
        description="行动计划任务督办系统：计划、任务、交办、进展、催办、通报与考核。",
        generate_unique_id_function=_unique_id,
        swagger_ui_parameters={"persistAuthorization": True},
        telemetry=None if settings.opentelemetry else _NO_TELEMETRY,
    )
    install_exception_handlers(app)
    hot = [(prefix, r) for prefix, r in ((p, _load(m, a)) for m, a, p in HOT_READ_ROUTERS) if r is not None]
    # Innermost: the lean writes skip the router, after every body-reading middleware has run.
    app.add_middleware(DirectWrites, api=app, mounted=hot)
    app.add_middleware(IdempotencyMiddleware)
    # Outside idempotency, which hashes the body: it sees the checked, normalised text.
    app.add_middleware(TextCheckMiddleware)
    # Outside both, which read the body.
    app.add_middleware(BodyLimitMiddleware)
    # The busiest reads skip the router and the body-reading middlewares (a GET has no body).
    app.add_middleware(DirectDispatch, api=app, mounted=hot)
    # Outside the idempotency store (it keeps and replays plain bodies), inside the request context.
    # The workbench's files come compressed already (Content-Encoding set: passed through).
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, exclude_content_types=GZIP_EXCLUDED)
    app.add_middleware(RequestContextMiddleware)
    if settings.trusted_proxies:
        # Outermost: only a listed proxy may name the client (throttling, logs); from anyone
        # else X-Forwarded-For is ignored. `duban api` runs uvicorn without its own handling.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)

    v1 = APIRouter(prefix="/api/v1", dependencies=[Depends(get_current_user)])
    for module, attr in AUTHENTICATED_ROUTERS:
        router = _load(module, attr)
        if router is not None:
            v1.include_router(router)
    # A request is matched against the routes in order, one by one (FastAPI 0.165 walks every
    # included router's routes): the health checks first (load balancers poll them, their paths
    # are their own), then the busiest.
    ops = _load("api.ops.router", "router")
    if ops is not None:
        app.include_router(ops)
    for prefix, router in hot:
        app.include_router(router, prefix=prefix)
    app.include_router(v1)
    for module, attr, prefix in PUBLIC_ROUTERS:
        router = _load(module, attr)
        if router is not None:
            app.include_router(router, prefix=prefix)
    _install_webhook_docs(app)
    openapi.install(app)
    return app


def _install_webhook_docs(app: FastAPI) -> None:
    """Document every outgoing event (the OA integrators' contract) in the same OpenAPI file."""
    from duban import events

    for event_type, model in sorted(events.EVENT_TYPES.items()):
        envelope: Any = events.envelope(event_type)

        def receiver(body: Any) -> None:
            return None

        # Set after definition: `from __future__ import annotations` would leave a string here.
        receiver.__annotations__ = {"body": envelope, "return": None}
        receiver.__doc__ = (
            f"{model.label}：Duban 推送的 `{event_type}` 事件（Standard Webhooks 签名），"
            f"模式 `{events.schema_id(event_type)}`。"
        )
        app.webhooks.post(event_type, name=event_type, operation_id=f"webhook-{event_type}")(receiver)
