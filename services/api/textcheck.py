"""Every string of every JSON body goes through duban.text before any route sees it.

One pass over the parsed body, for all routes at once: a string carrying a control or format
character answers 422 naming its field (`details[].field`, as pydantic's errors do); strings are
NFC-normalised (the body is re-encoded only when one changed). Names are checked further, one line
and not blank, by the `Name` type of their schemas. Bodies that are not JSON pass untouched
(FastAPI refuses malformed JSON itself).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http import is_json, read_body, replay
from duban import text


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        # What orjson refuses but FastAPI's json.loads accepts (lone surrogates, huge integers).
        return json.loads(body)
    except (ValueError, RecursionError):
        return _UNPARSED


_UNPARSED = object()


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, ensure_ascii=False).encode()


class TextCheckMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or not is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks, gone = await read_body(receive)
        if gone is not None:  # the client is gone: let the app see it
            await self.app(scope, replay(chunks, gone, receive), send)
            return
        body = b"".join(chunks)
        parsed = _parse(body) if body.strip() else _UNPARSED
        if parsed is not _UNPARSED:
            cleaned, refused = text.clean_tree(parsed, ("body",))
            if refused:
                errors = [
                    {"field": ".".join(loc), "loc": list(loc), "message": message, "type": "text.refused"}
                    for loc, message in refused
                ]
                await _refuse(send, errors)
                return
            if cleaned != parsed:
                body = _encode(cleaned)
                headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
                scope["headers"] = [*headers, (b"content-length", str(len(body)).encode())]
        await self.app(scope, replay([body], None, receive), send)


async def _refuse(send: Send, errors: list[dict[str, Any]]) -> None:
    body = orjson.dumps(
        {"error": {"code": "validation_error", "message": "请求内容不合法", "details": errors}}
    )
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
