"""Request body limits, before anything reads a body.

A JSON or form body (or one without a content type) is limited to `DUBAN_MAX_BODY_BYTES`; a file
(multipart, text, a document: what the plan import and attachments take) to
`DUBAN_MAX_UPLOAD_BYTES` plus the multipart framing, and those routes check the file's own size
exactly. A declared `Content-Length` over the limit is refused before a byte is read; a body
streamed without one is counted and refused as soon as it passes the limit, so an oversized body
is never buffered or parsed in full.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duban.settings import get_settings

# Boundaries and part headers around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(HTTPException):
    # An HTTPException, so FastAPI's body parsing passes it on instead of turning it into a 400.
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail="body too large")
        self.limit = limit


def human_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n / 1024:g} KB" if n >= 1024 else f"{n} 字节"


def too_large_body(limit: int) -> dict[str, Any]:
    return {
        "error": {
            "code": "request.too_large",
            "message": f"请求内容过大（上限 {human_bytes(limit)}）",
            "details": {"max_bytes": limit},
        }
    }


_SMALL_TYPES = (b"", b"application/json", b"application/x-www-form-urlencoded")


def _limit(scope: Scope) -> int:
    settings = get_settings()
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type in _SMALL_TYPES or content_type.endswith(b"+json"):
        return settings.max_body_bytes
    return settings.max_upload_bytes + MULTIPART_OVERHEAD


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = _limit(scope)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Raised while a middleware (idempotency) read the body, outside FastAPI's handlers.
            if started:
                raise
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    import orjson

    body = orjson.dumps(too_large_body(limit))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
