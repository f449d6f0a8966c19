from __future__ import annotations

import logging
import math
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.limits import BodyTooLarge, too_large_body
from duban.db import is_database_unavailable
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
    envelope = {"error": {"code": code, "message": message, "details": details}}
    try:
        body = orjson.dumps(envelope, default=str)
    except TypeError:
        # An id echoed back from the request beyond 64 bits (/assignments/999…9/accept): orjson
        # cannot write it, so the details carry it as text rather than the answer becoming a 500.
        body = orjson.dumps(_json_safe(envelope), default=str)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


_INT64 = 2**63


def _json_safe(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    return value


# Seconds a client is asked to wait after a 503 for an unreachable database: about as long as a
# connection attempt and a pool wait take to tell again.
DATABASE_RETRY_AFTER = 5


def database_unavailable_response() -> Response:
    return error_response(
        503,
        "database.unavailable",
        "数据库暂不可用，请稍后重试",
        {"retry_after": DATABASE_RETRY_AFTER},
        {"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


# pydantic v2 error types → the sentence a person reads; {name} fills from the error's ctx.
# Types that cannot arise from a JSON body or a query string still get a sentence, so no English
# ever leaks; anything newer than this table falls back to _GENERIC.
_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": "缺少必填项",
    "missing_argument": "缺少必填项",
    "missing_keyword_only_argument": "缺少必填项",
    "missing_positional_only_argument": "缺少必填项",
    "missing_sentinel_error": "缺少必填项",
    "extra_forbidden": "不允许的字段",
    "unexpected_keyword_argument": "不允许的字段",
    "unexpected_positional_argument": "多余的参数",
    "multiple_argument_values": "同一参数给出了多个值",
    "no_such_attribute": "不存在的字段",
    "frozen_field": "该字段不可修改",
    "frozen_instance": "该对象不可修改",
    "invalid_key": "键名不合法",
    "get_attribute_error": "读取字段失败",
    "json_invalid": "请求体不是合法的 JSON",
    "json_type": "须为 JSON 字符串或字节",
    "needs_python_object": "类型不正确",
    "recursion_loop": "数据存在循环引用",
    "recursion_depth_exceeded": "数据嵌套层级过深",
    "model_type": "须为对象",
    "model_attributes_type": "须为对象",
    "dataclass_type": "须为对象",
    "dataclass_exact_type": "须为对象",
    "named_tuple_type": "须为数组",
    "arguments_type": "参数格式不正确",
    "default_factory_not_called": "无法生成默认值",
    "none_required": "须为空值",
    "greater_than": "须大于{gt}",
    "greater_than_equal": "不能小于{ge}",
    "less_than": "须小于{lt}",
    "less_than_equal": "不能大于{le}",
    "multiple_of": "须为{multiple_of}的整数倍",
    "finite_number": "须为有限的数值",
    "too_short": "至少{min_length}项（现有{actual_length}项）",
    "too_long": "至多{max_length}项（现有{actual_length}项）",
    "iterable_type": "须为数组",
    "iteration_error": "遍历数据时出错",
    "string_type": "须为字符串",
    "string_unicode": "字符编码不正确",
    "string_too_short": "至少{min_length}个字符",
    "string_too_long": "最多{max_length}个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_not_ascii": "只能包含英文字母、数字和符号",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "dict_type": "须为对象",
    "frozen_dict_type": "须为对象",
    "ordered_dict_type": "须为对象",
    "counter_type": "须为对象",
    "mapping_type": "须为对象",
    "list_type": "须为数组",
    "deque_type": "须为数组",
    "tuple_type": "须为数组",
    "set_type": "须为数组",
    "frozen_set_type": "须为数组",
    "set_item_not_hashable": "数组中有无法比较的元素",
    "bool_type": "须为布尔值",
    "bool_parsing": "须为布尔值",
    "int_type": "须为整数",
    "int_parsing": "须为整数",
    "int_parsing_size": "整数超出范围",
    "int_from_float": "须为整数，不能带小数",
    "float_type": "须为数值",
    "float_parsing": "须为数值",
    "bytes_type": "须为字节串",
    "bytes_too_short": "至少{min_length}个字节",
    "bytes_too_long": "最多{max_length}个字节",
    "bytes_invalid_encoding": "字节编码不正确",
    "value_error": "取值不合法",
    "assertion_error": "取值不合法",
    "ellipsis_error": "取值不合法",
    "date_type": "须为日期",
    "date_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "date_from_datetime_inexact": "须为日期，不能带时间",
    "date_past": "须为过去的日期",
    "date_future": "须为将来的日期",
    "time_type": "须为时间",
    "time_parsing": "时间格式不正确，应为 HH:MM:SS",
    "datetime_type": "须为日期时间",
    "datetime_parsing": "日期时间格式不正确，应为 ISO 8601（如 2025-12-31T09:00:00+08:00）",
    "datetime_object_invalid": "日期时间不合法",
    "datetime_from_date_parsing": "日期时间格式不正确，应为 ISO 8601（如 2025-12-31T09:00:00+08:00）",
    "datetime_past": "须为过去的时间",
    "datetime_future": "须为将来的时间",
    "timezone_naive": "不能带时区",
    "timezone_aware": "须带时区（如 +08:00）",
    "timezone_offset": "时区偏移不正确",
    "time_delta_type": "须为时长",
    "time_delta_parsing": "时长格式不正确",
    "is_instance_of": "类型不正确",
    "is_subclass_of": "类型不正确",
    "callable_type": "类型不正确",
    "union_tag_invalid": "类型标记不在允许范围内",
    "union_tag_not_found": "缺少类型标记",
    "url_type": "须为网址",
    "url_parsing": "网址格式不正确",
    "url_syntax_violation": "网址格式不正确",
    "url_too_long": "网址最长{max_length}个字符",
    "url_scheme": "网址协议不在允许范围内",
    "uuid_type": "须为 UUID",
    "uuid_parsing": "UUID 格式不正确",
    "uuid_version": "UUID 版本不正确",
    "decimal_type": "须为数值",
    "decimal_parsing": "须为数值",
    "decimal_max_digits": "数字最多{max_digits}位",
    "decimal_max_places": "小数最多{decimal_places}位",
    "decimal_whole_digits": "整数部分最多{whole_digits}位",
    "fraction_type": "须为分数",
    "fraction_parsing": "分数格式不正确",
    "complex_type": "须为复数",
    "complex_str_parsing": "复数格式不正确",
}
_GENERIC = "取值不合法"
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[a-z]{2,}")


def _number(value: Any) -> str:
    # 100, not 100.0; 0.5 stays 0.5.
    if isinstance(value, float) and value.is_integer() and abs(value) <= 1e15:
        return str(int(value))
    return str(value)


def validation_message(err: dict[str, Any]) -> str:
    """pydantic's error (type + ctx) in Chinese; its English `msg` never reaches a person."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    # Our own validators raise ValueError (or a PydanticCustomError of their own type) with a
    # Chinese sentence: show it as written.
    if kind in ("value_error", "assertion_error"):
        own = str(ctx.get("error", ""))
    elif kind not in _VALIDATION_MESSAGES:
        own = str(err.get("msg", ""))
    else:
        own = ""
    if _CJK.search(own) and not _ENGLISH_WORD.search(own):
        return own
    template = _VALIDATION_MESSAGES.get(kind, _GENERIC)
    try:
        return template.format_map({k: _number(v) for k, v in ctx.items()})
    except (KeyError, IndexError, ValueError):
        return template.split("{", 1)[0].rstrip("（") or _GENERIC


def _ctx(ctx: dict[str, Any] | None) -> dict[str, Any] | None:
    if not ctx:
        return None
    return {k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in ctx.items()}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        item = {
            "field": ".".join(loc),
            "loc": loc,
            "message": validation_message(err),
            "type": err.get("type"),
        }
        ctx = _ctx(err.get("ctx"))
        if ctx:
            item["ctx"] = ctx
        out.append(item)
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
        if isinstance(exc, BodyTooLarge):
            envelope = too_large_body(exc.limit)["error"]
            return error_response(413, envelope["code"], envelope["message"], envelope["details"])
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
    @app.exception_handler(PoolTimeoutError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        log.error(
            "database unavailable", extra={"request_id": _request_id(request), "error": type(exc).__name__}
        )
        return database_unavailable_response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        rid = _request_id(request)
        if is_database_unavailable(exc):
            # Raised outside the routes (a middleware, a dependency's teardown): still a 503.
            log.error("database unavailable", extra={"request_id": rid, "error": type(exc).__name__})
            return database_unavailable_response()
        log.exception("unhandled error", extra={"request_id": rid, "path": request.url.path})
        return error_response(500, "internal_error", "服务器内部错误，请联系管理员", {"request_id": rid})
