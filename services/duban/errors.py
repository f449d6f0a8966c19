from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from duban import labels


class DubanError(Exception):
    """A business error with a stable English code and a message people read (zh-CN)."""

    status_code = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.details = details
        self.headers = headers
        super().__init__(f"{self.code}: {self.message}")


class BadRequest(DubanError):
    pass


class Unauthorized(DubanError):
    status_code = 401
    code = "auth.unauthorized"
    message = "未登录或登录已失效"


class Forbidden(DubanError):
    status_code = 403
    code = "auth.forbidden"
    message = "无权执行此操作"


class NotFound(DubanError):
    status_code = 404
    code = "not_found"
    message = "资源不存在"


class Conflict(DubanError):
    status_code = 409
    code = "conflict"
    message = "与当前状态冲突"


class IllegalTransition(Conflict):
    code = "assignment.illegal_transition"

    def __init__(
        self, *, action: str, state: str, allowed: Iterable[str], entity: str = "assignment"
    ) -> None:
        allowed_list = sorted(allowed)
        # People read the states and actions as the office says them (已签收, 审核通过); the
        # identifiers stay in details for clients.
        super().__init__(
            f"{labels.entity(entity)}当前为“{labels.state(entity, state)}”，"
            f"不能“{labels.action(entity, action)}”；"
            f"可执行的操作：{labels.join(labels.action(entity, a) for a in allowed_list)}",
            code=f"{entity}.illegal_transition",
            details={"action": action, "state": state, "allowed": allowed_list},
        )


class PreconditionFailed(DubanError):
    status_code = 412
    code = "precondition_failed"
    message = "资源已被他人修改，请刷新后重试"


class Unprocessable(DubanError):
    status_code = 422
    code = "validation_error"
    message = "请求内容不合法"


class TooManyRequests(DubanError):
    status_code = 429
    code = "rate_limited"
    message = "请求过于频繁，请稍后再试"


class ServiceUnavailable(DubanError):
    status_code = 503
    code = "service_unavailable"
    message = "服务暂不可用"
