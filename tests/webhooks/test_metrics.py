"""Webhook deliveries, failures and the backlog, as the metrics show them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from benefitgate.events import outbox as events
from tests.conftest import Api, api_key
from tests.fixtures.metrics import Scrape, moved, scrape
from tests.fixtures.webhook_api import create_endpoint
from tests.fixtures.webhooks import Received, Receiver, eventually


async def _scrape_until(api: Api, holds: Callable[[Scrape], bool], seconds: float = 15) -> Scrape:
    """Scrape through `api` until `holds(scrape)` or `seconds` pass; the last scrape."""
    for _ in range(int(seconds / 0.1)):
        last = await scrape("/metrics", api.client)
        if holds(last):
            break
        await asyncio.sleep(0.1)
    return last


async def test_webhook_deliveries_failures_and_backlog_are_scraped(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    failures_left = [2]

    async def fail_twice(_: Received) -> int:
        if failures_left[0]:
            failures_left[0] -= 1
            return 500
        return 204

    receiver = Receiver(answer=fail_twice)
    deliveries = "benefitgate_webhook_deliveries_total"
    before = await scrape("/metrics", hooks_api.client)
    await create_endpoint(hooks_api, key, receiver.url())  # the receiver is not up yet
    for n in range(3):
        await events.enqueue(conn, "test.n", None, {"n": n})
    behind = await _scrape_until(
        hooks_api, lambda s: s.value("benefitgate_webhook_endpoints_behind") == 1
    )
    async with receiver.serving():
        assert await eventually(lambda: len(receiver.received) >= 5)
        after = await _scrape_until(
            hooks_api, lambda s: s.value("benefitgate_webhook_endpoints_behind") == 0
        )

    assert behind.value("benefitgate_webhook_endpoints_behind") == 1
    assert behind.value("benefitgate_webhook_oldest_pending_seconds") > 0
    assert after.value("benefitgate_webhook_endpoints_behind") == 0
    assert after.value("benefitgate_webhook_oldest_pending_seconds") == 0
    assert moved(before, after, deliveries, outcome="success") == 3
    # Refused connections while the receiver was down, then its two 500s.
    assert moved(before, after, deliveries, outcome="failure") >= 2
    assert moved(before, after, "benefitgate_webhook_delivery_duration_seconds_count") >= 5
