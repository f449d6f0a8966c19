"""Fast JSON responses and ETag handling shared by every resource."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from duban.errors import PreconditionFailed

_OPTS = orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(type(obj).__name__)


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=_OPTS)


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONBytes:
    return JSONBytes(content, status_code=status_code, headers=headers)


def encoded_response(body: bytes, status_code: int = 200) -> Response:
    """JSON encoded already (what `json_response` would send for the same content)."""
    return Response(body, status_code=status_code, media_type="application/json")


def etag_of(kind: str, entity_id: Any, version: int) -> str:
    return f'W/"{kind}-{entity_id}-{version}"'


def check_if_match(request: Request, *, kind: str, entity_id: Any, version: int) -> None:
    """Lost-update protection: when the client names the version it edited, it must still be current."""
    header = request.headers.get("if-match")
    if not header or header.strip() == "*":
        return
    current = etag_of(kind, entity_id, version)
    candidates = {c.strip() for c in header.split(",")}
    # Accept strong and weak forms of the same tag.
    if current in candidates or current.removeprefix("W/") in candidates:
        return
    raise PreconditionFailed(details={"current_etag": current})


JSON = b"application/json"


def media_type(scope: Scope) -> bytes:
    """The request's media type (`application/json`), lower-cased, without its parameters."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value.split(b";")[0].strip().lower())
    return b""


def is_json(scope: Scope) -> bool:
    """A JSON body as FastAPI reads one: `application/json` or a `+json` type."""
    kind = media_type(scope)
    return kind == JSON or kind.endswith(b"+json")


async def read_body(receive: Receive) -> tuple[list[bytes], Message | None]:
    """A middleware's read of the whole request body: its chunks, and the message that ended the
    read early (the client gone) or None. Give both to `replay` for the app inside."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks, None


def replay(chunks: list[bytes], last: Message | None, receive: Receive) -> Receive:
    """A `receive` for an app inside a middleware that has read the request's body already: what
    was read (as one message, or as it came with `last` the message that ended it), then the
    connection's own messages (a disconnect)."""
    pending: list[Message] = (
        [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
        if last is None
        else [*({"type": "http.request", "body": c, "more_body": True} for c in chunks), last]
    )

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
