"""URL safety for outgoing callbacks: the api checks a webhook URL when it is saved, the notifier again
before every send (DNS may have changed in between)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from duban.errors import Unprocessable


class UnsafeUrl(Unprocessable):
    code = "webhook.unsafe_url"
    message = "回调地址指向内网、回环或链路本地地址，已拒绝"


def _blocked(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not http(s) or that resolve to a non-public address (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("回调地址必须是 HTTP 或 HTTPS 地址", code="webhook.invalid_url", details={"url": url})
    if allow_private:
        return
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl("回调地址无法解析", code="webhook.unresolvable_url", details={"host": host}) from exc
    addresses = sorted({info[4][0] for info in infos})
    bad = [a for a in addresses if _blocked(str(a))]
    if bad:
        raise UnsafeUrl(details={"host": host, "addresses": bad})
