"""Standard Webhooks: webhook-id / webhook-timestamp / webhook-signature (signed by duban.signing)."""

from __future__ import annotations

from datetime import datetime

import httpx
import orjson

from duban.settings import Settings
from duban.signing import sign_all
from duban.urlsafety import UnsafeUrl
from notifier.channels import DeliveryResult, OutgoingMessage
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


def _headers(headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
    return {
        k.lower(): ("…" if k.lower() in _SECRET_HEADERS else v[:500]) for k, v in list(headers.items())[:50]
    }


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
    from notifier.retry import parse_retry_after

    req_headers, req_body = _headers(headers), body[:BODY_EXCERPT].decode(errors="replace")

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
        response = client.post(url, content=body, headers=headers, follow_redirects=False)
    except httpx.TimeoutException as exc:
        return failed(f"timeout: {exc}")
    except httpx.HTTPError as exc:
        return failed(f"{type(exc).__name__}: {exc}")
    ok = 200 <= response.status_code < 300
    return DeliveryResult(
        ok=ok,
        status_code=response.status_code,
        error=None if ok else f"HTTP {response.status_code}",
        response_excerpt=excerpt(response.text),
        response_headers=_headers(response.headers),
        retry_after=parse_retry_after(response.headers.get("retry-after"), now),
        # 4xx other than 408/409/425/429 will not get better by retrying; nor will a redirect.
        retryable=ok or response.status_code >= 500 or response.status_code in (408, 409, 425, 429),
        request_headers=req_headers,
        request_body=req_body,
    )
