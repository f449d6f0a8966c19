"""The delivery fast path (PinnedClient.post_bytes: straight to the httpcore pool): what it sends,
what it keeps of the answer, and that a connection is reused only when that is safe."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook

from duban.settings import Settings
from duban.signing import new_secret
from notifier.channels import OutgoingMessage
from notifier.channels.webhook import RESPONSE_EXCERPT, WebhookChannel
from notifier.transport import READ_LIMIT, make_client


class Server:
    """Answers each POST as `answer` says; records headers, body and the client's port (a new
    port means a new connection)."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], bytes, int]] = []
        self.answer: Any = lambda: (200, {"content-length": "2"}, [b"ok"])
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                server.seen.append(
                    ({k.lower(): v for k, v in self.headers.items()}, body, self.client_address[1])
                )
                status, headers, chunks = server.answer()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(chunk)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook?x=1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def _send(server: Server, secret: str, n: int = 1) -> list[Any]:
    settings = Settings(webhook_allow_private=True)
    message = OutgoingMessage(
        message_id="msg_fast",
        event_type="instruction.issued",
        target=server.url,
        payload={
            "type": "instruction.issued",
            "timestamp": "2026-12-01T09:00:00+08:00",
            "data": {"t": "落实"},
        },
        secret=secret,
    )
    with make_client(settings) as client:
        channel = WebhookChannel(client, now=datetime.now(UTC), settings=settings)
        return [channel.send(message) for _ in range(n)]


def test_a_post_carries_host_length_and_a_signature_the_receiver_verifies(server: Server) -> None:
    secret = new_secret()
    (res,) = _send(server, secret)
    assert res.ok and res.status_code == 200 and res.response_excerpt == "ok"
    headers, body, _ = server.seen[0]
    assert headers["host"] == server.url.split("/")[2] and headers["content-length"] == str(len(body))
    assert "accept-encoding" not in headers  # nothing to decode comes back
    Webhook(secret).verify(body, headers)  # raises if the signature does not match
    assert res.request_headers and res.request_headers["webhook-id"] == "msg_fast"


def test_keep_alive_is_reused_and_retry_after_is_read(server: Server) -> None:
    server.answer = lambda: (429, {"content-length": "4", "Retry-After": "120"}, [b"slow"])
    results = _send(server, new_secret(), n=3)
    assert [r.status_code for r in results] == [429, 429, 429]
    assert all(r.retryable and r.retry_after == 120 for r in results)
    assert results[0].response_headers and results[0].response_headers["retry-after"] == "120"
    assert len({port for _, _, port in server.seen}) == 1  # one connection for the three posts


def test_a_long_chunked_answer_is_cut_and_its_connection_not_reused(server: Server) -> None:
    big = b"x" * 8192

    def chunked() -> Iterator[bytes]:
        for _ in range(READ_LIMIT // len(big) + 4):
            yield b"%x\r\n%b\r\n" % (len(big), big)
        yield b"0\r\n\r\n"

    server.answer = lambda: (500, {"transfer-encoding": "chunked"}, chunked())
    results = _send(server, new_secret(), n=2)
    assert [r.status_code for r in results] == [500, 500]
    assert results[0].response_excerpt == "x" * RESPONSE_EXCERPT
    # The first answer was left unread past READ_LIMIT: its connection was closed, not reused.
    assert len({port for _, _, port in server.seen}) == 2
