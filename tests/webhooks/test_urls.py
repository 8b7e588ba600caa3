"""The connect-time guard against DNS rebinding: the sender's connections resolve names
through a resolver that keeps public addresses only (allow-listed hosts keep all), so a
name that passed the check before the send cannot reach a private address at connect."""

from __future__ import annotations

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
