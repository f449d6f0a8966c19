"""Webhook secrets and Standard Webhooks signatures (webhook-id / webhook-timestamp / webhook-signature).

The signature itself comes from the `standardwebhooks` package, so receivers verifying with any
Standard Webhooks library agree with us by construction.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form: whsec_ + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value ("v1,<base64 HMAC-SHA256>") for one message."""
    # The library reads naive and aware datetimes as UTC, so hand it an aware UTC instant.
    return Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode("utf-8"))


def sign_all(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """One webhook-signature header for several secrets (a rotation's overlap): space-separated
    "v1,<sig>" values, newest secret first. Standard Webhooks receivers accept any one that matches."""
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets_)
