"""Delivery channels: each sends one message and reports what happened; none touches the database
except the inbox (which is written at fan-out, in the notifier's own transaction)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class OutgoingMessage:
    message_id: str
    event_type: str
    payload: dict[str, Any]  # {"type", "timestamp", "data"}
    target: str  # URL or e-mail address
    secret: str | None = None
    # During a secret rotation's overlap: the previous secret, which signs a second signature.
    previous_secret: str | None = None
    title: str = ""
    text: str = ""
    markdown: str = ""
    # The batch already vetted and pinned the target's address (once per batch, not per post).
    vetted: bool = False


@dataclass
class DeliveryResult:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: float | None = None
    # False when retrying cannot help (refused URL, malformed address): dead-letter at once.
    retryable: bool = True
    # The delivery log: what was sent (body truncated) and what came back.
    request_headers: dict[str, str] | None = None
    request_body: str | None = None
    response_headers: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    def send(self, message: OutgoingMessage) -> DeliveryResult: ...
