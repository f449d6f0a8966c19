"""`Idempotency-Key` on POST: a retry with the same key and body gets the first response again.

A pure ASGI middleware so that it covers every write route without each router opting in.

- Keyed on the *principal* (the authenticated user or service account), not the credential: a
  re-login or a rotated token keeps the caller's keys. Requests that do not authenticate (sign-in,
  token refresh, bad credentials) run as if no key were sent and store nothing.
- The first request inserts an in-progress row before it runs (a unique (principal, key) decides
  who is first); a concurrent second one answers 409 `idempotency.in_progress` with Retry-After.
  A row left in progress by a crashed worker is taken over after `_LEASE`.
- The same key with another method, path or body answers 422 `idempotency.key_reused`.
- Only 2xx responses are kept, for `idempotency_ttl_hours`; expired rows are deleted lazily, a
  batch at a time, by later requests. Anything else (4xx, 5xx, an exception) removes the row, so a
  retry runs again.
- Secrets are never stored: responses marked `Cache-Control: no-store` and the routes that issue
  credentials (`_SECRET_ISSUERS`) keep only the in-progress guard while they run; a retry runs
  afresh.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any, cast

import anyio
import orjson
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import SessionFactory, default_session_factory, principal_of
from api.errors import database_unavailable_response
from api.http import read_body, replay
from duban.clock import get_clock
from duban.db import is_database_unavailable
from duban.models import IdempotencyRecord
from duban.settings import get_settings

log = logging.getLogger("duban.api")

_REPLAY_HEADERS = {b"content-type", b"etag", b"location"}
_MAX_KEY = 200
# Longer than any request runs; a row still in progress after this was left by a dead worker.
_LEASE = timedelta(minutes=2)
_MAX_STORED_BODY = 1024 * 1024
_CLEANUP_BATCH = 100
# POST routes whose 2xx response carries a credential shown only once (API keys, board tokens,
# webhook signing secrets, access/refresh tokens): never replayed, never stored.
_SECRET_ISSUERS = frozenset(
    {
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/service-accounts",
        "/api/v1/board-tokens",
        "/api/v1/webhooks",
    }
)
_T = IdempotencyRecord


def _error(code: str, message: str, details: Any = None) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message, "details": details}})


def _no_store(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in headers)


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

        chunks, gone = await read_body(receive)
        if gone is not None:  # the client is gone: nothing to keep a key for
            await self.app(scope, replay(chunks, gone, receive), send)
            return
        body = b"".join(chunks)
        replay_receive = replay([body], None, receive)

        state = scope["app"].state
        factory: SessionFactory = getattr(state, "session_factory", None) or default_session_factory
        clock = getattr(state, "clock", None) or get_clock()
        settings = get_settings()
        now = clock.now()
        try:
            user_id = await run_in_threadpool(_principal, factory, headers, settings, now)
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            await database_unavailable_response()(scope, receive, send)
            return
        if user_id is None:
            # Not signed in (or not validly): no one to keep the key for; the app answers.
            await self.app(scope, replay_receive, send)
            return
        principal = f"user:{user_id}"
        path = scope["path"]
        digest = hashlib.sha256(
            b"\0".join([b"POST", path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        ttl = timedelta(hours=settings.idempotency_ttl_hours)
        try:
            outcome = await run_in_threadpool(_claim, factory, principal, key, path, digest, now, ttl)
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            await database_unavailable_response()(scope, receive, send)
            return

        if outcome[0] == "mismatch":
            await _send_json(
                send,
                422,
                _error("idempotency.key_reused", "该 Idempotency-Key 已用于内容不同的请求", {"key": key}),
            )
            return
        if outcome[0] == "in_progress":
            await _send_json(
                send,
                409,
                _error("idempotency.in_progress", "使用相同 Idempotency-Key 的请求正在处理，请稍后重试"),
                extra=[(b"retry-after", b"1")],
            )
            return
        if outcome[0] == "replay":
            _, status, stored_body, stored_headers = outcome
            raw = [(k.encode(), v.encode()) for k, v in stored_headers.items()]
            raw.append((b"idempotent-replayed", b"true"))
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": stored_body})
            return

        row_id: int = outcome[1]
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": [], "size": 0}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                captured["size"] += len(chunk)
                if captured["size"] <= _MAX_STORED_BODY:
                    captured["body"].append(chunk)
            await send(message)

        keep = False
        try:
            await self.app(scope, replay_receive, capture_send)
            keep = (
                200 <= captured["status"] < 300
                and captured["size"] <= _MAX_STORED_BODY
                and path not in _SECRET_ISSUERS
                and not _no_store(captured["headers"])
            )
        finally:
            stored = {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in captured["headers"]
                if k.lower() in _REPLAY_HEADERS
            }
            # Shielded: a client that hangs up must not leave the key blocked until the lease ends.
            with anyio.CancelScope(shield=True):
                try:
                    await run_in_threadpool(
                        _finish,
                        factory,
                        row_id,
                        (captured["status"], b"".join(captured["body"]), stored) if keep else None,
                    )
                except Exception as exc:
                    # The response is out; a key left in progress is taken over after _LEASE.
                    if not is_database_unavailable(exc):
                        raise
                    log.warning("idempotency record %s not finished: database unavailable", row_id)


def _principal(
    factory: SessionFactory, headers: dict[bytes, bytes], settings: Any, now: datetime
) -> int | None:
    with factory(read_only=True) if factory is default_session_factory else factory() as session:
        return principal_of(session, headers=headers, settings=settings, now=now)


def _claim(
    factory: SessionFactory, principal: str, key: str, path: str, digest: str, now: datetime, ttl: timedelta
) -> tuple[Any, ...]:
    """Insert the in-progress row, or say why not: ("claimed", id) | replay | in_progress | mismatch."""
    c = _T.__table__.c  # type: ignore[attr-defined]
    with factory() as session:
        expired = select(c.id).where(c.created_at < now - ttl).order_by(c.id).limit(_CLEANUP_BATCH)
        session.execute(delete(_T).where(c.id.in_(expired.scalar_subquery())))
        session.commit()
        for _attempt in range(2):
            row = _T(
                principal=principal,
                key=key,
                method="POST",
                path=path[:500],
                request_hash=digest,
                status_code=None,
                response_body=None,
                response_headers={},
                created_at=now,
            )
            session.add(row)
            try:
                session.commit()
                return ("claimed", row.id)
            except IntegrityError:
                session.rollback()
            found = session.execute(
                select(
                    c.id, c.request_hash, c.status_code, c.response_body, c.response_headers, c.created_at
                ).where(c.principal == principal, c.key == key)
            ).first()
            if found is None:
                continue  # deleted between our insert and this read: try once more
            if found.created_at < now - ttl:
                session.execute(delete(_T).where(c.id == found.id))  # expired: the key is free again
                session.commit()
                continue
            if found.request_hash != digest:
                return ("mismatch",)
            if found.status_code is not None:
                return (
                    "replay",
                    found.status_code,
                    bytes(found.response_body or b""),
                    dict(found.response_headers),
                )
            if found.created_at < now - _LEASE:
                # Left in progress by a worker that died: take it over, if nobody beat us to it.
                result = session.execute(
                    update(_T)
                    .where(c.id == found.id, c.status_code.is_(None), c.created_at == found.created_at)
                    .values(created_at=now),
                    execution_options={"preserve_rowcount": True},
                )
                taken = cast(CursorResult[Any], result).rowcount
                session.commit()
                if taken:
                    return ("claimed", found.id)
            return ("in_progress",)
        return ("in_progress",)


def _finish(factory: SessionFactory, row_id: int, response: tuple[int, bytes, dict[str, str]] | None) -> None:
    c = _T.__table__.c  # type: ignore[attr-defined]
    with factory() as session:
        if response is None:
            session.execute(delete(_T).where(c.id == row_id))
        else:
            status, body, headers = response
            session.execute(
                update(_T)
                .where(c.id == row_id)
                .values(status_code=status, response_body=body, response_headers=headers)
            )
        session.commit()


async def _send_json(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"application/json"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
