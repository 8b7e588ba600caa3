"""Where a webhook may be sent: the checks on an endpoint's URL, when it is registered and
again before every send (a name may resolve elsewhere by then).

Only `https`, except to a loopback address in development mode. A URL whose host resolves
to a private, loopback, link-local, site-local, multicast, reserved or unspecified address
is refused (it would let a caller probe the service's own network), and so is an IPv6
address that carries such an IPv4 address (mapped, translated, 6to4, NAT64, Teredo) or is
in NAT64's local-use prefix, unless the allow-list names the host:
BENEFITGATE_WEBHOOK_ALLOW_HOSTS, for receivers on a private network, and for tests.
An allow-listed host may also use `http`. No whitespace or control character anywhere:
`urlsplit` would drop some silently, and the URL sent to would not be the one shown.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import unicodedata
from collections.abc import Collection
from urllib.parse import urlsplit

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

__all__ = ["MAX_URL", "UnsafeUrl", "check_syntax", "check_url", "may_reach"]

MAX_URL = 2000


class UnsafeUrl(ValueError):
    """A URL the service will not send to; the message says why."""


def check_syntax(url: str, allow_hosts: Collection[str], dev_mode: bool) -> str:
    """The URL's host, if its form is acceptable; raise UnsafeUrl otherwise."""
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"give a URL of at most {MAX_URL} characters")
    # urlsplit drops tab, CR and LF wherever they are, so the URL requested would not be
    # the one stored and shown; no whitespace or control character (C0, DEL, C1) passes.
    odd = next((c for c in url if c.isspace() or unicodedata.category(c) == "Cc"), None)
    if odd is not None:
        raise UnsafeUrl(f"give a URL without whitespace or control characters (U+{ord(odd):04X})")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a URL: {exc}") from exc
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise UnsafeUrl("give an absolute https URL")
    if "@" in parts.netloc:
        raise UnsafeUrl("credentials in the URL are not accepted; verify signatures instead")
    if port == 0:
        raise UnsafeUrl("port 0 is not a port to send to")
    if parts.scheme == "http" and host not in allow_hosts and not (dev_mode and _loopback(host)):
        raise UnsafeUrl("webhooks are sent over https only")
    return host


async def check_url(url: str, allow_hosts: Collection[str], dev_mode: bool) -> None:
    """Raise UnsafeUrl unless `url` may receive webhooks now (its host resolved)."""
    host = check_syntax(url, allow_hosts, dev_mode)
    if host in allow_hosts:
        return
    for address in await _addresses(host):
        if not may_reach(address, dev_mode):
            raise UnsafeUrl(_not_public(host, address))


def _not_public(host: str, address: str) -> str:
    """Why `host` is refused. A name's address stays unsaid: the caller would learn what
    the service's own DNS answers for names of its network."""
    if host == address:
        return f"{host} is not a public address"
    return f"{host[:100]} resolves to an address that is not public"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _addresses(host: str) -> list[str]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except UnicodeError as exc:  # a label empty or too long for IDNA
        raise UnsafeUrl(f"{host[:100]} is not a valid host name") from exc
    except OSError as exc:
        raise UnsafeUrl(f"{host[:100]} does not resolve: {exc.strerror or exc}") from exc
    return [str(info[4][0]) for info in found]


Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that carry an IPv4 address in their low 32 bits, reaching it through a
# translator: NAT64's well-known prefix (RFC 6052), IPv4-translated addresses
# (::ffff:0:0:0/96, RFC 2765, SIIT) and IPv4-compatible ones.
_EMBEDDING_V4 = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96")
)
# NAT64's local-use prefix (RFC 8215): a translator of the operator's own network, with
# the IPv4 address at a place that operator chose. Never public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _reached(address: Address) -> list[Address]:
    """The addresses judged for a connection to `address`: itself, or the IPv4 addresses an
    IPv6 address carries (mapped, translated, 6to4, NAT64, IPv4-compatible, Teredo's
    server and client), each of which a translator or relay may reach."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]  # ::ffff:127.0.0.1 is 127.0.0.1
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    for network in _EMBEDDING_V4:
        if address in network and int(address) > 1:  # :: and ::1 are IPv6's own
            return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return [address]


def _public(address: Address) -> bool:
    """Whether an address (not one that carries another) is on the public internet: global,
    and neither multicast (`is_global` holds of 224.0.0.1 and ff02::1) nor IPv6 site-local
    (fec0::/10, deprecated, which `is_global` lets pass)."""
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    return address.is_global and not address.is_multicast and not site_local


def may_reach(raw: str, dev_mode: bool) -> bool:
    """Whether a webhook may connect to the address `raw`: every address it reaches public,
    or (in development mode) loopback."""
    address = ipaddress.ip_address(raw.partition("%")[0])  # without an IPv6 zone
    if address in _LOCAL_NAT64:
        return False
    reached = _reached(address)
    return all(_public(a) for a in reached) or (dev_mode and all(a.is_loopback for a in reached))


class PublicOnlyResolver(ThreadedResolver):
    """The resolver of the webhook sender's connections: it drops the addresses a host
    may not be sent to, at connect time. `check_url` resolves a name before a send, and
    the connection resolves it again; without this, a name that answered a public address
    to the first lookup and a private one to the second (DNS rebinding) would reach the
    private one. Allow-listed hosts keep every address."""

    def __init__(self, allow_hosts: Collection[str], dev_mode: bool) -> None:
        super().__init__()
        self._allow_hosts = allow_hosts
        self._dev_mode = dev_mode

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        if host in self._allow_hosts:
            return found
        allowed = [r for r in found if may_reach(r["host"], self._dev_mode)]
        if not allowed:
            raise OSError(f"{host[:100]} resolves to no public address")
        return allowed
