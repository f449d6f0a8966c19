"""DingTalk (signed custom robot) and WeCom (group robot) markdown messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote_plus

import orjson

from duban.settings import Settings
from notifier.channels import DeliveryResult, OutgoingMessage
from notifier.channels.webhook import post
from notifier.transport import PinnedClient

# errcodes that mean "too many messages": retry later rather than dead-letter.
_THROTTLED = {130101, 45009, 45033}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    return quote_plus(base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode())


def dingtalk_url(url: str, secret: str | None, now: datetime) -> str:
    if not secret:
        return url
    ts = int(now.timestamp() * 1000)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={ts}&sign={dingtalk_sign(secret, ts)}"


def _check_errcode(result: DeliveryResult) -> DeliveryResult:
    if not result.ok or not result.response_excerpt:
        return result
    try:
        answer = orjson.loads(result.response_excerpt)
    except orjson.JSONDecodeError:
        return result
    code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
    if code:
        return replace(
            result,
            ok=False,
            error=f"errcode {code}: {answer.get('errmsg')}",
            retryable=code in _THROTTLED,
            retry_after=60.0 if code in _THROTTLED else None,
        )
    return result


class DingTalkChannel:
    def __init__(self, client: PinnedClient, *, now: datetime, settings: Settings) -> None:
        self.client, self.now, self.settings = client, now, settings

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = orjson.dumps(
            {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown}}
        )
        url = dingtalk_url(message.target, message.secret, self.now)
        return _check_errcode(
            post(
                self.client,
                self.settings,
                url,
                body,
                {"content-type": "application/json"},
                self.now,
                vetted=message.vetted,
            )
        )


class WeComChannel:
    def __init__(self, client: PinnedClient, *, now: datetime, settings: Settings) -> None:
        self.client, self.now, self.settings = client, now, settings

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        # WeCom markdown content is capped at 4096 bytes.
        content = message.markdown.encode()[:4000].decode(errors="ignore")
        body = orjson.dumps({"msgtype": "markdown", "markdown": {"content": content}})
        return _check_errcode(
            post(
                self.client,
                self.settings,
                message.target,
                body,
                {"content-type": "application/json"},
                self.now,
                vetted=message.vetted,
            )
        )
