"""Outbox retention: pruning moves the horizon, and a cursor below it is an explicit
CURSOR_EXPIRED for the polling feed and for live subscriptions, never a silent skip; a
cursor past the newest event is INVALID_INPUT for both, never a silent wait."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg

from benefitgate.events import outbox as events
from benefitgate.events import retention
from benefitgate.events.outbox import START, EventScope
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.live import subscribe, ws_client

FEED = """query($after: String) { events(after: $after) {
  __typename ... on EventPage { events { id } endCursor }
  ... on CursorExpiredError { code horizon }
  ... on InvalidInputError { code field message } } }"""


PAGE = """query($after: String, $first: Int!) { events(after: $after, first: $first) {
  ... on EventPage { events { cursor } endCursor hasMore } } }"""


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


async def test_an_empty_first_page_ends_at_the_horizon_so_the_next_page_follows_on(
    conn: asyncpg.Connection, api: Api
) -> None:
    written = await _three_old_and_one_new(conn)
    await conn.execute("update events set created_at = $1", NOW - timedelta(days=40))
    await retention.prune(conn, NOW - timedelta(days=30))  # every event: a quiet service
    key = await api_key(conn)

    first = (await api.data(FEED, {"after": None}, auth=key))["events"]
    # Was the start's cursor, below the horizon: the next page was CURSOR_EXPIRED.
    assert first["events"] == []
    assert events.Cursor.decode(first["endCursor"]) >= written[3].cursor
    await events.enqueue(conn, "test.newer", None, {})
    following = (await api.data(FEED, {"after": first["endCursor"]}, auth=key))["events"]
    assert following["__typename"] == "EventPage" and len(following["events"]) == 1


async def test_a_quiet_reader_pages_past_the_events_of_others_and_never_expires_for_them(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    quiet, busy = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(2)]
    token = frontend_token(quiet, ttl=timedelta(days=400))
    start = (await api.data(FEED, {"after": None}, auth=token))["events"]["endCursor"]
    for n in range(3):
        await events.enqueue(conn, "test.busy", busy, {"n": n})

    page = (await api.data(FEED, {"after": start}, auth=token))["events"]
    # The page ends past the busy account's events: it ended at the cursor it was given,
    # so every page read them again, and once they were pruned the quiet reader's next
    # page was CURSOR_EXPIRED though it had missed nothing.
    assert page["events"] == []
    busy_last = (await events.read_feed(conn, START, 10, EventScope(everything=True)))[-1]
    assert events.Cursor.decode(page["endCursor"]) >= busy_last.cursor
    await conn.execute("update events set created_at = $1", NOW - timedelta(days=40))
    await retention.prune(conn, NOW - timedelta(days=30))
    await events.enqueue(conn, "test.quiet", quiet, {})
    after_prune = (await api.data(FEED, {"after": page["endCursor"]}, auth=token))["events"]
    assert after_prune["__typename"] == "EventPage" and len(after_prune["events"]) == 1
    # A full page still ends at its last event, with more to read.
    key = await api_key(conn)
    for n in range(3):
        await events.enqueue(conn, "test.busy", busy, {"n": n})
    paged = (await api.data(PAGE, {"after": None, "first": 2}, auth=key))["events"]
    assert paged["hasMore"] is True
    assert paged["endCursor"] == paged["events"][-1]["cursor"]


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


async def _ahead(conn: asyncpg.Connection) -> list[events.Cursor]:
    """Cursors no reader was handed: a thousand transactions ahead (a margin for the
    service's own writes meanwhile), and far past that."""
    next_txid = await conn.fetchval("select pg_snapshot_xmax(pg_current_snapshot())::text")
    return [events.Cursor(int(next_txid) + 1_000, 1), events.Cursor(99_999_999_999, 1)]


async def test_the_polling_feed_refuses_a_cursor_past_the_newest_event(
    conn: asyncpg.Connection, api: Api
) -> None:
    await events.enqueue(conn, "test.old", None, {})
    key = await api_key(conn)
    tail = await events.tail_cursor(conn)
    answers = [
        (await api.data(FEED, {"after": c.encode()}, auth=key))["events"]
        for c in await _ahead(conn)
    ]
    # Was an empty page ending at that cursor: the next pages passed over every event.
    await events.enqueue(conn, "test.new", None, {})
    at_tail = await api.data(FEED, {"after": tail.encode()}, auth=key)

    assert (
        answers
        == [
            {
                "__typename": "InvalidInputError",
                "code": "INVALID_INPUT",
                "field": "after",
                "message": "after is past the newest event",
            }
        ]
        * 2
    )
    assert len(at_tail["events"]["events"]) == 1


async def _all(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item async for item in stream]


async def test_a_subscription_from_a_cursor_past_the_newest_event_is_refused(
    conn: asyncpg.Connection, live_port: int
) -> None:
    await events.enqueue(conn, "test.old", None, {})
    answers = []
    async with ws_client(live_port, await api_key(conn)) as session:
        for cursor in await _ahead(conn):
            stream = subscribe(session, after=cursor.encode())
            async with contextlib.aclosing(stream):
                answers.append(await asyncio.wait_for(_all(stream), 10))

    # Was a stream that stayed open and dropped every event, live ones too.
    refusal = {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "message": "after is past the newest event",
    }
    assert answers == [[refusal], [refusal]]


async def _a_position_no_event_holds(conn: asyncpg.Connection) -> events.Cursor:
    """A made-up position between two events of one transaction: its transaction is
    real, its event id is no event's."""
    async with conn.transaction():
        first = await events.enqueue(conn, "test.first", None, {})
        await conn.execute("select nextval(pg_get_serial_sequence('events', 'id'))")
        await events.enqueue(conn, "test.second", None, {})
    txid = await conn.fetchval("select txid::text from events where id = $1", first)
    return events.Cursor(int(txid), first + 1)


async def test_a_made_up_position_inside_a_transaction_is_refused_by_the_feed_and_streams(
    conn: asyncpg.Connection, api: Api, live_port: int
) -> None:
    """Was accepted: the feed and a stream from it passed over the rest of that
    transaction's events."""
    made_up = await _a_position_no_event_holds(conn)
    key = await api_key(conn)
    polled = await api.data(FEED, {"after": made_up.encode()}, auth=key)
    async with ws_client(live_port, key) as session:
        stream = subscribe(session, after=made_up.encode())
        async with contextlib.aclosing(stream):
            streamed = await asyncio.wait_for(_all(stream), 10)

    why = "after is not a position of this API's events"
    assert polled["events"] == {
        "__typename": "InvalidInputError", "code": "INVALID_INPUT", "field": "after",
        "message": why,
    }  # fmt: skip
    refusal = {"__typename": "InvalidInputError", "code": "INVALID_INPUT", "message": why}
    assert streamed == [refusal]


async def test_every_cursor_the_feed_hands_out_is_taken_back(
    conn: asyncpg.Connection, api: Api
) -> None:
    """The start, each event's cursor, each page's end (past every event of a transaction,
    or at the last event) and the horizon after a prune: none is refused as made up."""
    await _three_old_and_one_new(conn)
    await _a_position_no_event_holds(conn)
    key = await api_key(conn)
    handed_out, after = [], None
    while True:
        page = (await api.data(PAGE, {"after": after, "first": 2}, auth=key))["events"]
        handed_out += [e["cursor"] for e in page["events"]] + [page["endCursor"]]
        after = page["endCursor"]
        if not page["hasMore"]:
            break
    for cursor in handed_out:
        answer = await api.data(FEED, {"after": cursor}, auth=key)
        assert answer["events"]["__typename"] == "EventPage", cursor
    await retention.prune(conn, NOW - timedelta(days=30))
    horizon = (await retention.horizon(conn)).encode()
    at_horizon = await api.data(FEED, {"after": horizon}, auth=key)
    assert at_horizon["events"]["__typename"] == "EventPage"
