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

The lean writes (`api.writepath`: 签收, a report, a task) are dispatched so too, by
`DirectWrites`: the innermost middleware, so that the body limit, the text check and
`Idempotency-Key` (api.limits, api.textcheck, api.idempotency) have run as for any POST. Their
parameters are integer path parameters, at most one body (validated by FastAPI's own
`request_body_to_args` on the route's field: the same values, the same 422), `writer: Writer`,
`now` and `request`. A body that is empty, not `application/json` or not JSON that orjson reads
goes to the router (replayed), which answers it as ever.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import clock_dep, now_dep, oauth2_scheme, settings_dep
from api.hotpath import hot_reader
from api.http import JSON, media_type, read_body, replay
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
            if "GET" not in (route.methods or ()) and "POST" in (route.methods or ()):
                continue  # a write: DirectWrites'
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
            response = await _handled(self.api, request, exc)
        await response(scope, receive, send)


@dataclass(frozen=True)
class _Write:
    route: APIRoute
    regex: re.Pattern[str]
    writer: tuple[str, Callable[..., Awaitable[Any]]]  # the writer dependency's parameter, function
    now: str | None  # the parameter taking `now_dep`
    request: str | None  # the parameter taking the Request
    overridable: tuple[Any, ...]  # dependencies whose override sends the request to the router


def direct_writes(mounted: Sequence[tuple[str, APIRouter]]) -> list[_Write]:
    """The POST routes marked `direct` of the routers mounted at the given prefixes."""
    out = []
    for prefix, router in mounted:
        for route in router.routes:
            if not isinstance(route, APIRoute) or not getattr(route.endpoint, "direct", False):
                continue
            if "POST" not in (route.methods or ()):
                continue
            dep = route.dependant
            params = inspect.signature(route.endpoint).parameters
            path_params = set(route.param_convertors)
            writers = [d for d in dep.dependencies if hasattr(d.call, "required_scope")]
            nows = [d for d in dep.dependencies if d.call is now_dep]
            known = {d.name for d in (*writers, *nows)} | path_params | {f.name for f in dep.body_params}
            if dep.request_param_name:
                known.add(dep.request_param_name)
            if (
                len(writers) != 1
                or len(dep.body_params) > 1
                or set(params) != known
                or len(dep.dependencies) != len(writers) + len(nows)
                or dep.query_params
                or dep.header_params
                or dep.cookie_params
                or any(params[p].annotation not in (int, "int") for p in path_params)
            ):
                raise TypeError(
                    f"{route.path}: a direct write takes integer path parameters, at most one body, "
                    "a writer, now and the request"
                )
            regex, _, _ = compile_path(prefix + route.path)
            writer = (str(writers[0].name), writers[0].call)
            overridable = (*_OVERRIDABLE, writer[1])
            now = str(nows[0].name) if nows else None
            out.append(_Write(route, regex, writer, now, dep.request_param_name, overridable))  # type: ignore[arg-type]
    return out


class DirectWrites:
    """The lean write routes, dispatched before the router (see the module doc)."""

    def __init__(self, app: ASGIApp, *, api: FastAPI, mounted: Sequence[tuple[str, APIRouter]]) -> None:
        self.app = app
        self.api = api
        self._routes = direct_writes(mounted)

    def _match(self, scope: Scope) -> tuple[_Write, dict[str, int]] | None:
        path = scope["path"]
        for write in self._routes:
            found = write.regex.match(path)
            if found is not None:
                values = found.groupdict()
                if not all(v.isascii() and v.isdigit() and len(v) <= 18 for v in values.values()):
                    return None
                if any(dep in self.api.dependency_overrides for dep in write.overridable):
                    return None
                return write, {k: int(v) for k, v in values.items()}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if scope["type"] == "http" and scope["method"] == "POST" and media_type(scope) == JSON:
            found = self._match(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        chunks, gone = await read_body(receive)
        if gone is not None:
            await self.app(scope, replay(chunks, gone, receive), send)
            return
        raw = b"".join(chunks)
        body: Any = None
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None
        if body is None:  # empty, or not orjson's JSON (FastAPI's json.loads decides): the router's
            await self.app(scope, replay(chunks, None, receive), send)
            return
        global served
        served += 1
        write, path_params = found
        route = write.route
        scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, path_params
        request = Request(scope, replay([raw], None, receive))
        try:
            values: dict[str, Any] = dict(path_params)
            # In the router's order: the dependencies (the principal: 401/403 first), then the body.
            values[write.writer[0]] = await write.writer[1](request, _bearer(scope))
            if write.now is not None:
                values[write.now] = (getattr(self.api.state, "clock", None) or get_clock()).now()
            if write.request is not None:
                values[write.request] = request
            if route.dependant.body_params:
                parsed, errors = await request_body_to_args(
                    route.dependant.body_params, body, route._embed_body_fields
                )
                if errors:
                    raise RequestValidationError(errors, body=body)
                values.update(parsed)
            response: Response = await route.endpoint(**values)
        except Exception as exc:
            response = await _handled(self.api, request, exc)
        await response(scope, receive, send)


async def _handled(api: FastAPI, request: Request, exc: Exception) -> Response:
    handlers = api.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            result = handler(request, exc)
            return await result if inspect.isawaitable(result) else result
    raise exc
