"""Direct dispatch of the busiest reads: matched before the router and the inner middlewares.

FastAPI's routing and dependency resolution cost more than a detail's own work once the
statements are lean: on this 2-core machine `GET /healthz` through the whole stack ran at about
2,000 req/s per two workers, against 36,000 for a bare ASGI function (docs/performance.md). An
`async def` route whose parameters are its path's integers, query parameters, `reader: HotReader`
and `now: NowDep` needs little of that machinery: this middleware matches its path with the
route's own regex, resolves the two dependencies as `api.hotpath.hot_reader` would, has FastAPI's
own `request_params_to_args` read the query parameters on the route's fields, and calls the
route's function itself. The route stays registered with FastAPI (OpenAPI, and every request this
middleware leaves alone: other methods, a parameter that is not a plain integer, a dependency
overridden in a test).

Errors take the app's own exception handlers, so every answer — body, status, headers — is the
one the router would have given. It sits inside the request context and gzip middlewares (request
id, access log, metrics, compression stay as they are) and outside the body-reading ones, which a
GET passes through anyway.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import clock_dep, now_dep, oauth2_scheme, settings_dep
from api.hotpath import hot_reader
from duban.clock import get_clock
from duban.settings import get_settings

Endpoint = Callable[..., Awaitable[Any]]
# What a direct route may take besides its path parameters.
_DEPENDENCIES = {"reader", "now"}
_OVERRIDABLE = (clock_dep, now_dep, oauth2_scheme, settings_dep)
# Requests this middleware answered itself, for tests.
served = 0


@dataclass(frozen=True)
class _Direct:
    route: APIRoute  # the router's own route object: what the router puts in scope["route"]
    regex: re.Pattern[str]  # its path under the prefix it is mounted at


def direct_routes(mounted: Sequence[tuple[str, APIRouter]]) -> list[_Direct]:
    """The routes marked `direct` of the routers mounted at the given prefixes."""
    out = []
    for prefix, router in mounted:
        for route in router.routes:
            if not isinstance(route, APIRoute) or not getattr(route.endpoint, "direct", False):
                continue
            params = inspect.signature(route.endpoint).parameters
            path_params = set(route.param_convertors)
            query = {f.name for f in route.dependant.query_params}
            if (
                "GET" not in (route.methods or ())
                or set(params) != path_params | query | _DEPENDENCIES
                or any(params[p].annotation not in (int, "int") for p in path_params)
            ):
                raise TypeError(
                    f"{route.path}: a direct route takes integer path parameters, query parameters, "
                    "reader and now"
                )
            regex, _, _ = compile_path(prefix + route.path)
            out.append(_Direct(route, regex))
    return out


def direct(endpoint: Endpoint) -> Endpoint:
    """Mark an `async def` read route for direct dispatch (see the module doc)."""
    endpoint.direct = True  # type: ignore[attr-defined]
    return endpoint


def _bearer(scope: Scope) -> str | None:
    # As OAuth2PasswordBearer(auto_error=False): "Bearer <token>", scheme case-insensitive.
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None


class DirectDispatch:
    def __init__(self, app: ASGIApp, *, api: FastAPI, mounted: Sequence[tuple[str, APIRouter]]) -> None:
        self.app = app
        self.api = api
        self._routes = direct_routes(mounted)

    def _match(self, scope: Scope) -> tuple[APIRoute, dict[str, int]] | None:
        path = scope["path"]
        for direct in self._routes:
            found = direct.regex.match(path)
            if found is not None:
                values = found.groupdict()
                # Anything but a plain integer is the router's to refuse (its 422 envelope).
                if not all(v.isascii() and v.isdigit() and len(v) <= 18 for v in values.values()):
                    return None
                return direct.route, {k: int(v) for k, v in values.items()}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not any(dep in self.api.dependency_overrides for dep in _OVERRIDABLE)
        ):
            found = self._match(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        global served
        served += 1
        route, path_params = found
        # As the router sets them (the metrics' route label, a service account's scope check).
        scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, path_params
        request = Request(scope, receive)
        try:
            clock = getattr(self.api.state, "clock", None) or get_clock()
            now = clock.now()
            reader = await hot_reader(request, _bearer(scope), get_settings(), now)
            # Query parameters read and validated by FastAPI's own function on the route's own
            # fields, after the principal as the router does: the same values, the same 422.
            query, errors = request_params_to_args(route.dependant.query_params, request.query_params)
            if errors:
                raise RequestValidationError(errors)
            response: Response = await route.endpoint(**path_params, **query, reader=reader, now=now)
        except Exception as exc:
            response = await self._handled(request, exc)
        await response(scope, receive, send)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        handlers = self.api.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                result = handler(request, exc)
                return await result if inspect.isawaitable(result) else result
        raise exc
