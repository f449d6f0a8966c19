"""HTTP that connects only to vetted addresses (no DNS-rebinding window).

`vet` resolves a URL's name once (duban.urlsafety.vet_url) and pins the address it approved for that
(host, port). The client's network backend never resolves a name: it connects to the pinned
address, or refuses. The request still carries the name — in the Host header and, for https, in
the TLS SNI and certificate check — because the URL is unchanged; only the socket's address is
fixed. Redirects are never followed (the caller passes follow_redirects=False and a 3xx is a
failure), and proxies from the environment are ignored (a proxy would resolve the name itself).

Deliveries post through `PinnedClient.post_bytes`, straight to the client's httpcore pool (the same
pinned backend, keep-alive connections and timeouts): httpx's request and response models —
URL and header objects, cookies, auth and redirect flows, content decoding — cost more CPU than
the HTTP exchange itself, and a delivery needs none of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from duban.settings import Settings
from duban.urlsafety import Vetted, vet_url


class PinnedBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._lock = threading.Lock()
        self._pins: dict[tuple[str, int], str] = {}

    def pin(self, host: str, port: int, address: str) -> None:
        with self._lock:
            self._pins[(host.lower(), port)] = address

    def pinned(self, host: str, port: int) -> str | None:
        with self._lock:
            return self._pins.get((host.lower(), port))

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = self.pinned(host, port)
        if address is None:
            raise httpcore.ConnectError(f"{host}:{port} was not vetted; refusing to resolve it here")
        return self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not a delivery target")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# A response body is read this far (the log keeps 2,048 characters of it); a longer one closes its
# connection instead of being read to the end.
READ_LIMIT = 64 * 1024
_TARGETS_MAX = 1024


@dataclass(frozen=True)
class Answer:
    """A response as a delivery records it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


class PinnedClient(httpx.Client):
    """httpx.Client whose connections go only to addresses `vet` approved."""

    def __init__(self, *, timeout: float, limits: httpx.Limits) -> None:
        self.backend = PinnedBackend()
        transport = httpx.HTTPTransport(limits=limits, trust_env=False)
        ssl_context = transport._pool._ssl_context  # the certifi context httpx built
        self.pool = transport._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )
        self._timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        self._targets: dict[str, tuple[httpcore.URL, bytes]] = {}
        super().__init__(timeout=timeout, transport=transport, trust_env=False, follow_redirects=False)

    def _target(self, url: str) -> tuple[httpcore.URL, bytes]:
        """The URL as httpx's transport hands it to httpcore (IDNA host, encoded path), and its
        Host header; parsed once per URL."""
        known = self._targets.get(url)
        if known is None:
            u = httpx.URL(url)
            if u.scheme not in ("http", "https") or not u.raw_host:
                raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url!r}")
            # The Host header as httpx writes it: lowercase, IDNA, the port only when not the default.
            known = (
                httpcore.URL(scheme=u.raw_scheme, host=u.raw_host, port=u.port, target=u.raw_path),
                u.netloc,
            )
            if len(self._targets) >= _TARGETS_MAX:
                self._targets.clear()
            self._targets[url] = known
        return known

    def post_bytes(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body` through the pinned pool: no redirects, no proxies, no content decoding (no
        Accept-Encoding is sent); the answer's body is read up to READ_LIMIT. Raises httpcore's
        exceptions (httpcore.TimeoutException, httpcore.NetworkError, …)."""
        target, host = self._target(url)
        raw = [(b"Host", host), *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]
        raw.append((b"Content-Length", b"%d" % len(body)))
        request = httpcore.Request(
            b"POST", target, headers=raw, content=body, extensions={"timeout": self._timeouts}
        )
        response = self.pool.handle_request(request)
        try:
            chunks, size = [], 0
            for chunk in response.stream:  # type: ignore[union-attr]
                chunks.append(chunk)
                size += len(chunk)
                if size >= READ_LIMIT:
                    break  # closing the response unread closes its connection too
        finally:
            response.close()
        return Answer(
            status=response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers],
            body=b"".join(chunks),
        )

    def vet(self, url: str, settings: Settings) -> Vetted:
        """Resolve once, check, pin; raises duban.urlsafety.UnsafeUrl when the target is refused."""
        vetted = vet_url(
            url, allow_private=settings.webhook_allow_private, allowed_networks=settings.webhook_networks
        )
        # The pool keys connections by the URL's host as httpx encodes it (IDNA for names).
        parsed = httpx.URL(url)
        self.backend.pin(parsed.host, vetted.port, vetted.address)
        return vetted


def make_client(settings: Settings) -> PinnedClient:
    # Well under the lease, so a hung receiver cannot outlive our claim on the message.
    timeout = min(settings.notifier_http_timeout_seconds, settings.notifier_lease_seconds / 4)
    return PinnedClient(
        timeout=timeout, limits=httpx.Limits(max_connections=64, max_keepalive_connections=32)
    )
