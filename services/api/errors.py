from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from duban.errors import DubanError

log = logging.getLogger("duban.api")

_HTTP_CODES = {
    400: ("bad_request", "请求有误"),
    401: ("auth.unauthorized", "未登录或登录已失效"),
    403: ("auth.forbidden", "无权执行此操作"),
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "不支持请求的内容格式"),
    409: ("conflict", "与当前状态冲突"),
    412: ("precondition_failed", "资源已被他人修改，请刷新后重试"),
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_error", "请求内容不合法"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    503: ("service_unavailable", "服务暂不可用"),
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message, "details": details}}, default=str)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc), "loc": loc, "message": err.get("msg"), "type": err.get("type")})
    return out


def install_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(DubanError)
    async def _duban(request: Request, exc: DubanError) -> Response:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(422, "validation_error", "请求内容不合法", _validation_details(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "请求失败"))
        if isinstance(exc.detail, str) and exc.detail and exc.status_code not in _HTTP_CODES:
            message = exc.detail
        return error_response(exc.status_code, code, message, None, getattr(exc, "headers", None))

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _data(request: Request, exc: Exception) -> Response:
        # The database refused a value (out of range, malformed): the client's input, not a bug.
        return error_response(422, "validation_error", "数值超出范围或格式不正确", None)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        log.warning("integrity error reached the handler", extra={"request_id": _request_id(request)})
        return error_response(409, "conflict", "与现有数据冲突（重复或仍被引用）", None)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        log.error(
            "database unavailable", extra={"request_id": _request_id(request), "error": type(exc).__name__}
        )
        return error_response(
            503, "database.unavailable", "数据库暂不可用，请稍后重试", None, {"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        rid = _request_id(request)
        log.exception("unhandled error", extra={"request_id": rid, "path": request.url.path})
        return error_response(500, "internal_error", "服务器内部错误，请联系管理员", {"request_id": rid})
