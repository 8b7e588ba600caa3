"""Outbox retention: pruning moves the horizon, and a cursor below it is an explicit
CURSOR_EXPIRED for the polling feed and for live subscriptions, never a silent skip."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg

from benefitgate.events import outbox as events
from benefitgate.events import retention
from benefitgate.events.outbox import START, EventScope
from tests.conftest import Api, api_key
from tests.fixtures.factories import NOW
from tests.fixtures.live import subscribe, ws_client

FEED = """query($after: String) { events(after: $after) {
  __typename ... on EventPage { events { id } endCursor }
  ... on CursorExpiredError { code horizon } } }"""


async def _three_old_and_one_new(conn: asyncpg.Connection) -> list[events.Event]:
    for n in range(3):
        await events.enqueue(conn, "test.old", None, {"n": n})
    await conn.execute("update events set created_at = $1", NOW - timedelta(days=40))
    await events.enqueue(conn, "test.new", None, {})
    return await events.read_feed(conn, START, 10, EventScope(everything=True))


async def test_pruning_deletes_old_events_and_moves_the_horizon_once(
    conn: asyncpg.Connection,
) -> None:
    written = await _three_old_and_one_new(conn)

    deleted = await retention.prune(conn, NOW - timedelta(days=30))
    again = await retention.prune(conn, NOW - timedelta(days=30))

    assert (deleted, again) == (3, 0)
    assert await retention.horizon(conn) == written[2].cursor
    remaining = await events.read_feed(conn, START, 10, EventScope(everything=True))
    assert [e.type for e in remaining] == ["test.new"]


async def test_the_polling_feed_refuses_a_cursor_below_the_horizon(
    conn: asyncpg.Connection, api: Api
) -> None:
    written = await _three_old_and_one_new(conn)
    await retention.prune(conn, NOW - timedelta(days=30))
    key = await api_key(conn)

    expired = await api.data(FEED, {"after": written[0].cursor.encode()}, auth=key)
    at_horizon = await api.data(FEED, {"after": written[2].cursor.encode()}, auth=key)
    from_start = await api.data(FEED, {"after": None}, auth=key)

    assert expired["events"] == {
        "__typename": "CursorExpiredError",
        "code": "CURSOR_EXPIRED",
        "horizon": written[2].cursor.encode(),
    }
    assert at_horizon["events"]["events"] == [{"id": str(written[3].id)}]
    assert from_start["events"]["events"] == [{"id": str(written[3].id)}]


async def test_a_subscription_from_a_cursor_below_the_horizon_is_told_so(
    conn: asyncpg.Connection, live_port: int
) -> None:
    written = await _three_old_and_one_new(conn)
    await retention.prune(conn, NOW - timedelta(days=30))
    async with ws_client(live_port, await api_key(conn)) as session:
        expired_stream = subscribe(session, after=START.encode())
        async with contextlib.aclosing(expired_stream):
            expired = [item async for item in expired_stream]
        resumed = subscribe(session, after=expired[0]["horizon"])
        async with contextlib.aclosing(resumed):
            first = await asyncio.wait_for(anext(resumed), 10)

    assert expired == [
        {
            "__typename": "CursorExpiredError",
            "code": "CURSOR_EXPIRED",
            "message": "events after this cursor were pruned",
            "horizon": written[2].cursor.encode(),
        }
    ]
    assert first["id"] == str(written[3].id)
