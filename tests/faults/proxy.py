"""A TCP proxy on 127.0.0.1 between Duban and PostgreSQL that can fail the way networks do.

- `forward()` / `heal()`: pass bytes both ways (new connections work again).
- `refuse()`: the database is down: new connections are refused (the listener is closed, the
  kernel answers RST) and existing ones are reset.
- `black_hole()`: a silent partition: packets vanish, nobody is told. New connections are
  accepted and everything they send is swallowed; existing connections stop forwarding in both
  directions and stay dead after `heal()` (the partition lost their state, as a firewall or NAT
  does), so only the client's own timeouts can end them.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket | None
    dead: bool = False

    def sockets(self) -> list[socket.socket]:
        return [s for s in (self.client, self.server) if s is not None]


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0: close with RST, as a crashed server's kernel answers.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    host: str = "127.0.0.1"
    port: int = 0
    mode: str = "forward"
    links: list[_Link] = field(default_factory=list)
    accepted: int = 0
    _listener: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def url_for(self, url: str) -> str:
        """The same database URL, through the proxy."""
        scheme, rest = url.split("://", 1)
        userinfo, _, tail = rest.rpartition("@")
        _, _, path = tail.partition("/")
        return f"{scheme}://{userinfo + '@' if userinfo else ''}{self.host}:{self.port}/{path}"

    # --- faults

    def forward(self) -> None:
        with self._lock:
            self.mode = "forward"
        if self._listener is None:
            self._listen()

    heal = forward

    def refuse(self) -> None:
        with self._lock:
            self.mode = "refuse"
            listener, self._listener = self._listener, None
            links, self.links = self.links, []
        if listener is not None:
            # shutdown() first: close() alone does not wake the thread blocked in accept().
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for link in links:
            link.dead = True
            for sock in link.sockets():
                _reset(sock)

    def black_hole(self) -> None:
        with self._lock:
            self.mode = "black_hole"
            for link in self.links:
                link.dead = True

    def close(self) -> None:
        self._closed = True
        self.refuse()

    def live_links(self) -> int:
        with self._lock:
            return sum(1 for link in self.links if not link.dead)

    # --- plumbing

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by refuse()/close()
            with self._lock:
                mode = self.mode
                self.accepted += 1
            if mode == "black_hole":
                link = _Link(client, None, dead=True)
                with self._lock:
                    self.links.append(link)
                threading.Thread(target=self._pump, args=(link, client, None), daemon=True).start()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            link = _Link(client, server)
            with self._lock:
                self.links.append(link)
            threading.Thread(target=self._pump, args=(link, client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, server, client), daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket | None) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if link.dead or dst is None:
                    continue  # swallowed: the partition
                dst.sendall(data)
        except OSError:
            pass
        if not link.dead:
            # An orderly end (the client or the server closed): pass it on.
            for sock in link.sockets():
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
