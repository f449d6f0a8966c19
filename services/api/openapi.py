from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.auth.scopes import required_scopes
from api.deps import get_session

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"

_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
_WRITE_METHODS = ("post", "put", "patch", "delete")

# The statuses the app's own machinery can answer on any operation, whatever its route declares:
# the layers every request crosses (body limit, text check, body parsing, authentication, scopes,
# the database). Route-specific outcomes (404 of a referenced resource, 409 of a state) stay with
# the route's own `responses=`.
_DESCRIPTIONS = {
    "400": "请求体无法解析（如非 UTF-8 字节）",
    "401": "未登录或登录已失效",
    "403": "无权执行此操作（角色不符，或服务账号的密钥缺少该接口所需的权限范围）",
    "404": "资源不存在或不在当前用户可见范围内",
    "409": "与当前状态冲突，或相同 Idempotency-Key 的请求仍在处理中（带 Retry-After）",
    "412": "资源已被他人修改（If-Match 不符），请刷新后重试",
    "415": "不支持的文件或内容类型",
    "429": "请求过于频繁，请按 Retry-After 稍后再试",
    "413": "请求内容过大",
    "422": "请求内容不合法（字段、参数、控制字符、业务规则或 Idempotency-Key）",
    "503": "数据库暂不可用，请稍后重试（带 Retry-After）",
}


def _api_routes(app: FastAPI) -> list[APIRoute]:
    found: list[APIRoute] = []
    stack: list[Any] = list(app.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            stack.extend(route.original_router.routes)
    return found


def _dependency_calls(route: APIRoute) -> set[Any]:
    calls: set[Any] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            calls.add(dep.call)
        stack.extend(dep.dependencies)
    return calls


def _error_response(status: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": _ENVELOPE_REF}}},
    }


def declare_errors(app: FastAPI, spec: dict[str, Any]) -> dict[str, Any]:
    """Declare on every operation the error statuses it can answer, all in the error envelope."""
    from api.main import _unique_id

    routes = {_unique_id(r): r for r in _api_routes(app)}
    for item in spec.get("paths", {}).values():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            route = routes.get(op.get("operationId", ""))
            statuses: set[str] = set()
            if "requestBody" in op:
                statuses |= {"400", "413", "422"}
            if op.get("parameters"):
                statuses.add("422")
            if any(p.get("in") == "path" for p in op.get("parameters", [])):
                statuses.add("404")
            authenticated = "security" in op
            if authenticated:
                statuses.add("401")
                # Deny by default: a service account whose key lacks the route's scope is refused;
                # only a route any key may call (whose own is the caller's identity) never is.
                if route is None or required_scopes(route) != frozenset():
                    statuses.add("403")
            if authenticated or (route is not None and get_session in _dependency_calls(route)):
                statuses.add("503")
            if method == "post":
                # Idempotency-Key: a concurrent twin is 409, a reused or overlong key 422.
                statuses |= {"409", "422"}
            responses: dict[str, Any] = op["responses"]
            for status in sorted(statuses):
                if status not in responses:
                    responses[status] = _error_response(status)
            # FastAPI's own 422 model ({"detail": […]}) is not what the app answers.
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = {"application/json": {"schema": {"$ref": _ENVELOPE_REF}}}
                    generic = (None, "", "Validation Error", HTTPStatus(int(status)).phrase)
                    if response.get("description") in generic and status in _DESCRIPTIONS:
                        response["description"] = _DESCRIPTIONS[status]
    schemas = spec.get("components", {}).get("schemas", {})
    if "#/components/schemas/HTTPValidationError" not in json.dumps(spec.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return spec


def install(app: FastAPI) -> None:
    """`app.openapi()` answers the document with the error statuses declared (see declare_errors)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(app, generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    app.openapi_schema = None
    return app.openapi()


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(app: FastAPI, path: Path = OPENAPI_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(build_openapi(app)), encoding="utf-8")
    return path
