"""Standard Webhooks: webhook-id / webhook-timestamp / webhook-signature (signed by duban.signing)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice

import httpcore
import httpx
import orjson

from duban.settings import Settings
from duban.signing import sign_all
from duban.urlsafety import UnsafeUrl
from notifier.channels import DeliveryResult, OutgoingMessage
from notifier.retry import parse_retry_after
from notifier.transport import PinnedClient

# The delivery log keeps this much of each body: enough to diagnose, not whole error pages.
BODY_EXCERPT = 4096
RESPONSE_EXCERPT = 2048
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie"}


def body_of(payload: dict[str, object]) -> bytes:
    """The envelope as the catalog documents it: type, version (of the event's schema), timestamp, data."""
    body: dict[str, object] = {"type": payload.get("type")}
    if payload.get("version") is not None:
        body["version"] = payload["version"]
    body |= {"timestamp": payload.get("timestamp"), "data": payload.get("data", {})}
    return orjson.dumps(body)


def excerpt(text: str, limit: int = RESPONSE_EXCERPT) -> str:
    return text[:limit]


def _headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in islice(headers, 50):
        k = k.lower()
        out[k] = "…" if k in _SECRET_HEADERS else v[:500]
    return out


class WebhookChannel:
    def __init__(self, client: PinnedClient, *, now: datetime, settings: Settings) -> None:
        self.client = client
        self.now = now
        self.settings = settings

    def headers(self, message: OutgoingMessage, body: bytes) -> dict[str, str]:
        ts = int(self.now.timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": "Duban-Notifier/1.0",
            "webhook-id": message.message_id,
            "webhook-timestamp": str(ts),
        }
        secrets = [s for s in (message.secret, message.previous_secret) if s]
        if secrets:
            # Rotation overlap: "v1,<new> v1,<old>"; a receiver on either secret verifies.
            headers["webhook-signature"] = sign_all(secrets, message.message_id, ts, body)
        return headers

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = body_of(message.payload)
        return post(
            self.client,
            self.settings,
            message.target,
            body,
            self.headers(message, body),
            self.now,
            vetted=message.vetted,
        )


def refused(error: str) -> DeliveryResult:
    """A URL the SSRF check refused: retrying cannot help, nothing was sent."""
    return DeliveryResult(ok=False, error=error, retryable=False)


def post(
    client: PinnedClient,
    settings: Settings,
    url: str,
    body: bytes,
    headers: dict[str, str],
    now: datetime,
    *,
    vetted: bool = False,
) -> DeliveryResult:
    """Vet the URL (resolve once, pin the address) unless the caller just did, then POST to that
    address; never a redirect."""
    req_headers, req_body = _headers(headers.items()), body[:BODY_EXCERPT].decode(errors="replace")

    def failed(error: str, retryable: bool = True) -> DeliveryResult:
        return DeliveryResult(
            ok=False, error=error, retryable=retryable, request_headers=req_headers, request_body=req_body
        )

    if not vetted:
        try:
            client.vet(url, settings)
        except UnsafeUrl as exc:
            return failed(f"{exc.code}: {exc.message}", retryable=False)
    try:
        answer = client.post_bytes(url, body, headers)
    except httpcore.TimeoutException as exc:
        return failed(f"timeout: {exc}")
    except (
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.UnsupportedProtocol,
        httpx.HTTPError,
    ) as exc:
        return failed(f"{type(exc).__name__}: {exc}")
    status = answer.status
    ok = 200 <= status < 300
    return DeliveryResult(
        ok=ok,
        status_code=status,
        error=None if ok else f"HTTP {status}",
        # Not decoded (none was asked for): a compressed answer's excerpt is only replacement marks.
        # NUL cannot be stored in a text column.
        response_excerpt=excerpt(
            answer.body[: RESPONSE_EXCERPT * 4].decode(errors="replace").replace("\x00", "")
        ),
        response_headers=_headers(answer.headers),
        retry_after=parse_retry_after(answer.header("retry-after"), now),
        # 4xx other than 408/409/425/429 will not get better by retrying; nor will a redirect.
        retryable=ok or status >= 500 or status in (408, 409, 425, 429),
        request_headers=req_headers,
        request_body=req_body,
    )
