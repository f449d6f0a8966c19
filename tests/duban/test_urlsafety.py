"""Webhook URL safety: IPv6 forms that carry an IPv4 address are judged by that address."""

from __future__ import annotations

import pytest

from duban.urlsafety import UnsafeUrl, check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
        "http://[2002:a9fe:a9fe::]/latest",  # 6to4 of 169.254.169.254
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:0:7f00:1]/",  # IPv4-translated (RFC 2765)
        "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
        "http://[64:ff9b::7f00:1]/",  # NAT64 well-known prefix
        "http://[64:ff9b::a00:1]/",
        "http://[64:ff9b:1::a9fe:a9fe]/",  # NAT64 local-use prefix
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
        "http://[2001:0:5ef5:79fd:0:0:f5ff:fffe]/",  # Teredo
        "http://[fe80::1%25eth0]/",
        "http://[fd00::1]/",
        "http://[::]/",
        "http://2130706433/",  # 127.0.0.1 as a number
        "http://0x7f.1/",
    ],
)
def test_embedded_ipv4_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/",
        "http://[2606:4700:4700::1111]/",
        "http://[2002:5db8:d70e::]/",  # 6to4 of a public address
        "http://[64:ff9b::5db8:d70e]/",  # NAT64 of a public address
    ],
)
def test_public_addresses_pass(url: str) -> None:
    check_url(url, allow_private=False)
