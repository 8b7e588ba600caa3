"""Where a webhook may be sent: the checks on an endpoint's URL, when it is registered and
again before every send (a name may resolve elsewhere by then).

Only `https`, except to a loopback address in development mode. A URL whose host resolves
to a private, loopback, link-local, multicast, reserved or unspecified address is refused
(it would let a caller probe the service's own network), unless the allow-list names the
host: BENEFITGATE_WEBHOOK_ALLOW_HOSTS, for receivers on a private network, and for tests.
An allow-listed host may also use `http`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

__all__ = ["MAX_URL", "UnsafeUrl", "check_syntax", "check_url"]

MAX_URL = 2000


class UnsafeUrl(ValueError):
    """A URL the service will not send to; the message says why."""


def check_syntax(url: str, allow_hosts: Collection[str], dev_mode: bool) -> str:
    """The URL's host, if its form is acceptable; raise UnsafeUrl otherwise."""
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"give a URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a URL: {exc}") from exc
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise UnsafeUrl("give an absolute https URL")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in the URL are not accepted; verify signatures instead")
    del port  # parsed only to refuse a malformed port
    if parts.scheme == "http" and host not in allow_hosts and not (dev_mode and _loopback(host)):
        raise UnsafeUrl("webhooks are sent over https only")
    return host


async def check_url(url: str, allow_hosts: Collection[str], dev_mode: bool) -> None:
    """Raise UnsafeUrl unless `url` may receive webhooks now (its host resolved)."""
    host = check_syntax(url, allow_hosts, dev_mode)
    if host in allow_hosts:
        return
    for address in await _addresses(host):
        if not address.is_global and not (dev_mode and address.is_loopback):
            raise UnsafeUrl(f"{host} resolves to {address}, which is not a public address")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"{host} does not resolve: {exc.strerror or exc}") from exc
    return [_address(str(info[4][0])) for info in found]


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(raw.partition("%")[0])  # without an IPv6 zone
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address
