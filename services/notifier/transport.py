"""HTTP that connects only to vetted addresses (no DNS-rebinding window).

`vet` resolves a URL's name once (duban.urlsafety.vet_url) and pins the address it approved for that
(host, port). The client's network backend never resolves a name: it connects to the pinned
address, or refuses. The request still carries the name — in the Host header and, for https, in
the TLS SNI and certificate check — because the URL is unchanged; only the socket's address is
fixed. Redirects are never followed (the caller passes follow_redirects=False and a 3xx is a
failure), and proxies from the environment are ignored (a proxy would resolve the name itself).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
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


class PinnedClient(httpx.Client):
    """httpx.Client whose connections go only to addresses `vet` approved."""

    def __init__(self, *, timeout: float, limits: httpx.Limits) -> None:
        self.backend = PinnedBackend()
        transport = httpx.HTTPTransport(limits=limits, trust_env=False)
        ssl_context = transport._pool._ssl_context  # the certifi context httpx built
        transport._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )
        super().__init__(timeout=timeout, transport=transport, trust_env=False, follow_redirects=False)

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
