"""`Idempotency-Key` on POST: the same key and body answer with the first response again.

A pure ASGI middleware so that it covers every write route without each router opting in.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import default_session_factory
from duban.models import IdempotencyRecord

_REPLAY_HEADERS = {b"content-type", b"etag", b"location"}
_MAX_KEY = 200


def _error(code: str, message: str, details: Any = None) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message, "details": details}})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key", b"").decode("latin-1").strip()
        if not key:
            await self.app(scope, receive, send)
            return
        if len(key) > _MAX_KEY:
            await _send_json(
                send, 422, _error("idempotency.invalid_key", "Idempotency-Key 过长（最多200字符）")
            )
            return

        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        digest = hashlib.sha256(scope["path"].encode() + b"\0" + body).hexdigest()
        # Keys are per caller: hash the credential rather than decode it here.
        cred = headers.get(b"authorization") or headers.get(b"x-api-key") or b"anonymous"
        principal = hashlib.sha256(cred).hexdigest()
        factory = getattr(scope["app"].state, "session_factory", default_session_factory)

        def lookup() -> tuple[str, int | None, bytes, dict[str, str]] | None:
            with factory() as session:
                row = session.exec(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
                    )
                ).first()
                if row is None:
                    return None
                return (
                    row.request_hash,
                    row.status_code,
                    bytes(row.response_body or b""),
                    dict(row.response_headers),
                )

        found = await run_in_threadpool(lookup)
        if found is not None:
            request_hash, status, stored_body, stored_headers = found
            if request_hash != digest:
                await _send_json(
                    send,
                    422,
                    _error("idempotency.key_reused", "该 Idempotency-Key 已用于内容不同的请求", {"key": key}),
                )
                return
            raw = [(k.encode(), v.encode()) for k, v in stored_headers.items()]
            raw.append((b"idempotent-replayed", b"true"))
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": stored_body})
            return

        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        await self.app(scope, replay_receive, capture_send)
        if captured["status"] >= 500:
            return
        stored = {k.decode(): v.decode() for k, v in captured["headers"] if k.lower() in _REPLAY_HEADERS}

        def store() -> None:
            with factory() as session:
                session.add(
                    IdempotencyRecord(
                        principal=principal,
                        key=key,
                        method="POST",
                        path=scope["path"][:500],
                        request_hash=digest,
                        status_code=captured["status"],
                        response_body=b"".join(captured["body"]),
                        response_headers=stored,
                    )
                )
                try:
                    session.commit()
                except IntegrityError:
                    # A concurrent request with the same key stored first; keep that one.
                    session.rollback()

        await run_in_threadpool(store)


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})
