"""URL safety for outgoing callbacks (SSRF).

The api checks a webhook URL when it is saved (`check_url`); the notifier vets it again before every
send (`vet_url`): the name is resolved once, every address it resolves to must be public (or inside
an allow-listed network), and the address returned is the one the notifier connects to — it never
lets the HTTP client resolve the name a second time, so a DNS answer that changes between the check
and the connection (DNS rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from duban.errors import Unprocessable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Unprocessable):
    code = "webhook.unsafe_url"
    message = "回调地址指向内网、回环或链路本地地址，已拒绝"


@dataclass(frozen=True)
class Vetted:
    """A URL whose host was resolved once and found acceptable: connect to `address` only."""

    scheme: str
    host: str
    port: int
    address: str


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=True) for c in cidrs if c.strip())


def _ip(addr: str) -> Address:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (translated, compatible, 6to4, NAT64), if any.

    A gateway on the path (6to4 relay, NAT64, the host's own stack) delivers such an address to the
    IPv4 one, so it is judged by that: `[2002:7f00:1::]` is 127.0.0.1.
    """
    if ip.sixtofour is not None:
        return ip.sixtofour
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_TRANSLATED or any(ip in net for net in _NAT64):
        return low32
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not :: or ::1, judged as themselves
        return low32
    return None


def _blocked(addr: str, allowed: Sequence[Network] = ()) -> bool:
    ip = _ip(addr)
    if any(ip.version == net.version and ip in net for net in allowed):
        return False  # an on-premises OA server the office listed explicitly
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return True  # a tunnel endpoint is never a webhook receiver
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _blocked(str(embedded), allowed)
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise UnsafeUrl("回调地址必须是 HTTP 或 HTTPS 地址", code="webhook.invalid_url", details={"url": url})
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(_ip(host))]  # an address literal is not looked up
    except ValueError:
        pass
    try:
        # socket.getaddrinfo by attribute: the one place a name is looked up (tests stub it here).
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl("回调地址无法解析", code="webhook.unresolvable_url", details={"host": host}) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeUrl("回调地址无法解析", code="webhook.unresolvable_url", details={"host": host})
    return addresses


def vet_url(url: str, *, allow_private: bool, allowed_networks: Sequence[Network] = ()) -> Vetted:
    """Resolve once; refuse non-http(s) URLs and any non-public address not allow-listed (SSRF)."""
    scheme, host, port = _split(url)
    addresses = _resolve(host, port)
    if not allow_private:
        bad = [a for a in addresses if _blocked(a, allowed_networks)]
        if bad:
            raise UnsafeUrl(details={"host": host, "addresses": bad})
    return Vetted(scheme=scheme, host=host, port=port, address=addresses[0])


def check_url(url: str, *, allow_private: bool, allowed_networks: Sequence[Network] = ()) -> None:
    """The check when a URL is saved: http(s) only; unless private targets are allowed, every address
    the name resolves to must be public or inside `allowed_networks`."""
    _split(url)
    if allow_private:
        return  # resolved (and pinned) at each send; an OA name may only resolve inside the intranet
    vet_url(url, allow_private=False, allowed_networks=allowed_networks)
