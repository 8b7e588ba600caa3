"""The connect-time guard against DNS rebinding: the sender's connections resolve names
through a resolver that keeps public addresses only (allow-listed hosts keep all), so a
name that passed the check before the send cannot reach a private address at connect."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from benefitgate.webhooks.urls import PublicOnlyResolver
from tests.fixtures.webhooks import Receiver


async def test_a_name_that_resolves_privately_is_not_connected_to_unless_allowed() -> None:
    receiver = Receiver()
    url = f"http://localhost:{receiver.port}/hooks/a"  # localhost: 127.0.0.1 here
    async with receiver.serving():
        for allowed, reaches in ((frozenset(), False), (frozenset({"localhost"}), True)):
            connector = aiohttp.TCPConnector(
                resolver=PublicOnlyResolver(allowed, dev_mode=False), use_dns_cache=False
            )
            async with aiohttp.ClientSession(connector=connector) as session:
                if reaches:
                    async with session.post(url, data=b"{}") as response:
                        assert response.status == 204
                else:
                    with pytest.raises(aiohttp.ClientConnectorError):
                        await session.post(url, data=b"{}")
    assert len(receiver.received) == 1  # only the allow-listed send arrived


@pytest.mark.parametrize(
    "address",
    [
        "224.0.0.1", "ff02::1", "fec0::1", "64:ff9b:1::a00:1", "64:ff9b::a00:1",
        "::ffff:0:a00:1", "::ffff:10.0.0.1", "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    ],
)  # fmt: skip
async def test_an_answer_that_is_not_public_or_carries_no_public_ipv4_is_not_connected_to(
    address: str,
) -> None:
    """Multicast, site-local, and IPv6 addresses carrying a private IPv4 address (NAT64,
    translated, mapped, 6to4, Teredo) are dropped at connect time as at registration."""
    resolver = PublicOnlyResolver(frozenset(), dev_mode=False)
    with pytest.raises(OSError, match="resolves to no public address"):
        await resolver.resolve(address, 443, socket.AF_UNSPEC)


async def test_an_answer_carrying_a_public_ipv4_is_connected_to() -> None:
    resolver = PublicOnlyResolver(frozenset(), dev_mode=False)
    for address in ("8.8.8.8", "64:ff9b::808:808", "::ffff:0:808:808", "2002:808:808::1"):
        assert [r["host"] for r in await resolver.resolve(address, 443, socket.AF_UNSPEC)]
