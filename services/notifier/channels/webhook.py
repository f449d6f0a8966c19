"""Standard Webhooks: webhook-id / webhook-timestamp / webhook-signature (signed by duban.signing)."""

from __future__ import annotations

from datetime import datetime

import httpx
import orjson

from duban.signing import sign
from duban.urlsafety import UnsafeUrl, check_url
from notifier.channels import DeliveryResult, OutgoingMessage


def body_of(payload: dict[str, object]) -> bytes:
    return orjson.dumps(
        {"type": payload.get("type"), "timestamp": payload.get("timestamp"), "data": payload.get("data", {})}
    )


def excerpt(text: str, limit: int = 2048) -> str:
    # The attempt log keeps enough of a response to diagnose it, not whole error pages.
    return text[:limit]


class WebhookChannel:
    def __init__(self, client: httpx.Client, *, now: datetime, allow_private: bool) -> None:
        self.client = client
        self.now = now
        self.allow_private = allow_private

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        try:
            check_url(message.target, allow_private=self.allow_private)
        except UnsafeUrl as exc:
            return DeliveryResult(ok=False, error=f"{exc.code}: {exc.message}", retryable=False)
        body = body_of(message.payload)
        ts = int(self.now.timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": "Duban-Notifier/1.0",
            "webhook-id": message.message_id,
            "webhook-timestamp": str(ts),
        }
        if message.secret:
            headers["webhook-signature"] = sign(message.secret, message.message_id, ts, body)
        return post(self.client, message.target, body, headers, self.now)


def post(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str], now: datetime
) -> DeliveryResult:
    from notifier.retry import parse_retry_after

    try:
        response = client.post(url, content=body, headers=headers, follow_redirects=False)
    except httpx.TimeoutException as exc:
        return DeliveryResult(ok=False, error=f"timeout: {exc}")
    except httpx.HTTPError as exc:
        return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    ok = 200 <= response.status_code < 300
    return DeliveryResult(
        ok=ok,
        status_code=response.status_code,
        error=None if ok else f"HTTP {response.status_code}",
        response_excerpt=excerpt(response.text),
        retry_after=parse_retry_after(response.headers.get("retry-after"), now),
        # 4xx other than 408/409/425/429 will not get better by retrying.
        retryable=ok or response.status_code >= 500 or response.status_code in (408, 409, 425, 429),
    )
