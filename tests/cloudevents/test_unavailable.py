"""POST /events when the database is lost mid-batch: 503 UNAVAILABLE, and the retry with
the same event ids counts each event once."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.terminate import locked, terminate_waiting


async def test_a_batch_cut_by_a_termination_is_503_and_its_retry_counts_once(
    api: Api, conn: asyncpg.Connection, dsn: str
) -> None:
    made = await factories.catalog(conn)
    account = await factories.account(conn, made["versions"]["basic"])
    key = await api_key(conn)
    batch = [cloud_event(account, "c-1", 5), cloud_event(account, "c-2", 7)]
    await post_events(api.client, [], auth=key)  # the key is verified and cached

    async with locked(dsn, "usage_event_ids") as holder:
        pending = asyncio.create_task(post_events(api.client, batch, auth=key))
        assert await terminate_waiting(holder) >= 1
        cut = await asyncio.wait_for(pending, 30)
    retried = await post_events(api.client, batch, auth=key)

    assert cut.status_code == 503, cut.text
    assert cut.headers["retry-after"] == "1"
    assert cut.json()["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "retryable": True}
    assert retried.status_code == 200, retried.text
    assert await conn.fetchval("select sum(value) from usage_counters") == 12
