"""SSRF at every delivery: the name is resolved once and the connection goes to that vetted address.

The resolver is stubbed at the network edge only (socket.getaddrinfo): the first answer for the
name is one address, every later answer another, as a rebinding DNS server would do.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from duban.settings import Settings
from duban.signing import new_secret
from duban.urlsafety import UnsafeUrl, check_url, networks, vet_url
from notifier.channels import OutgoingMessage
from notifier.channels.webhook import WebhookChannel
from notifier.transport import make_client

NAME = "oa.rebind.example"
REAL_GETADDRINFO = socket.getaddrinfo


class Listener:
    """A loopback HTTP server on one address; records the Host header of every request."""

    def __init__(self, address: str, port: int = 0) -> None:
        hosts: list[str] = []
        self.hosts = hosts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", 0)))
                hosts.append(self.headers.get("host", ""))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """NAME resolves to `first` on the first lookup and to 127.0.0.1 on every later one."""
    state: dict[str, Any] = {"first": "127.0.0.2", "lookups": 0}

    def stub(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if host != NAME:
            return REAL_GETADDRINFO(host, port, *args, **kw)
        state["lookups"] += 1
        address = state["first"] if state["lookups"] == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", stub)
    yield state


def _message(url: str) -> OutgoingMessage:
    return OutgoingMessage(
        message_id="msg_rebind",
        event_type="assignment.overdue",
        target=url,
        payload={"type": "assignment.overdue", "timestamp": "2026-01-02T09:00:00+08:00", "data": {}},
        secret=new_secret(),
    )


def test_rebinding_after_the_check_never_reaches_loopback(rebinding: dict[str, Any]) -> None:
    """Check time: a permitted address (127.0.0.2, allow-listed like an on-prem OA server). Delivery:
    the name now answers 127.0.0.1 — the send connects to the address it vetted, or nowhere."""
    vetted = Listener("127.0.0.2")
    # Same port on 127.0.0.1: if anything resolved the name again, this is where it would land.
    loopback = Listener("127.0.0.1", vetted.port)
    settings = Settings(webhook_allowed_cidrs=["127.0.0.2/32"])
    url = f"http://{NAME}:{vetted.port}/hook"
    try:
        with make_client(settings) as client:
            res = WebhookChannel(client, now=datetime.now(UTC), settings=settings).send(_message(url))
        assert res.ok, res.error
        assert rebinding["lookups"] == 1  # resolved once, by the check; httpx never asked DNS
        assert vetted.hosts == [f"{NAME}:{vetted.port}"]  # the Host header still names the endpoint
        assert loopback.hosts == []
        # The next send resolves again (once): 127.0.0.1 now, refused before any connection.
        with make_client(settings) as client:
            again = WebhookChannel(client, now=datetime.now(UTC), settings=settings).send(_message(url))
        assert not again.ok and not again.retryable
        assert again.error and again.error.startswith("webhook.unsafe_url")
        assert rebinding["lookups"] == 2 and loopback.hosts == [] and len(vetted.hosts) == 1
    finally:
        vetted.close()
        loopback.close()


def test_public_at_check_loopback_at_delivery_is_never_connected(rebinding: dict[str, Any]) -> None:
    """The issue's case: the api's check sees a public address; at delivery the name says 127.0.0.1."""
    rebinding["first"] = "93.184.215.14"
    loopback = Listener("127.0.0.1")
    settings = Settings()
    url = f"http://{NAME}:{loopback.port}/hook"
    try:
        check_url(url, allow_private=False)  # what the api does when the endpoint is saved
        with make_client(settings) as client:
            res = WebhookChannel(client, now=datetime.now(UTC), settings=settings).send(_message(url))
        assert not res.ok and res.error and res.error.startswith("webhook.unsafe_url")
        assert loopback.hosts == [] and rebinding["lookups"] == 2
    finally:
        loopback.close()


def test_a_name_nobody_vetted_is_not_resolved_by_the_client(rebinding: dict[str, Any]) -> None:
    loopback = Listener("127.0.0.1")
    try:
        with make_client(Settings()) as client:
            with pytest.raises(Exception, match="not vetted"):
                client.post(f"http://{NAME}:{loopback.port}/")
        assert rebinding["lookups"] == 0 and loopback.hosts == []
    finally:
        loopback.close()


def test_redirects_are_not_followed() -> None:
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(307)
            self.send_header("location", "http://169.254.169.254/latest/meta-data")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    settings = Settings(webhook_allow_private=True)
    try:
        with make_client(settings) as client:
            res = WebhookChannel(client, now=datetime.now(UTC), settings=settings).send(
                _message(f"http://127.0.0.1:{server.server_address[1]}/")
            )
        assert not res.ok and res.status_code == 307 and not res.retryable
    finally:
        server.shutdown()
        server.server_close()


def test_allow_list_admits_only_its_networks() -> None:
    allowed = networks(["10.20.0.0/16"])
    assert (
        vet_url("http://10.20.3.4/hook", allow_private=False, allowed_networks=allowed).address == "10.20.3.4"
    )
    for url in ("http://10.21.0.1/", "http://127.0.0.1/", "http://169.254.169.254/", "gopher://10.20.0.1/"):
        with pytest.raises(UnsafeUrl):
            vet_url(url, allow_private=False, allowed_networks=allowed)
    with pytest.raises(ValueError):
        Settings(webhook_allowed_cidrs="10.20.0.1/16")  # host bits set: a typo, refused at start-up
    assert Settings(webhook_allowed_cidrs="10.20.0.0/16, 192.168.5.10/32").webhook_networks == (
        *allowed,
        *networks(["192.168.5.10/32"]),
    )
