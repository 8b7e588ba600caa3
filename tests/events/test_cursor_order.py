"""The outbox's cursor order is numeric at every digit boundary of transaction ids and event
ids: the feed, a subscription's replay, the listener's start and retention all hand out
each event exactly once, in (txid, id) order. Transaction ids are chosen on both sides of
999/1000 and 9999/10000, where an order by the text of the number goes wrong ("10000"
sorts before "999")."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benefitgate import db
from benefitgate.events import outbox as events
from benefitgate.events import retention
from benefitgate.events.listener import OutboxListener
from benefitgate.events.outbox import START, Cursor, EventScope, NewEvents
from tests.conftest import Api, ServeLive, api_key
from tests.fixtures.factories import NOW
from tests.fixtures.live import subscribe, until_type, ws_client

ALL = EventScope(everything=True)

FEED = """query($after: String, $first: Int!) { events(after: $after, first: $first) {
  __typename ... on EventPage { events { id cursor } endCursor hasMore } } }"""

# (txid, id) pairs crossing both boundaries on both numbers, with ids deliberately out of
# step with transaction ids: a transaction that started later may hold a lower id.
BOUNDARY = [
    (997, 10_001),
    (998, 9_999),
    (999, 10_000),
    (999, 99),
    (1_000, 100),
    (1_000, 1_000),
    (1_001, 999),
    (9_998, 9),
    (9_999, 10),
    (9_999, 9_998),
    (10_000, 1),
    (10_000, 2),
    (10_001, 11),
    (10_010, 10_002),
]
EXPECTED = sorted(BOUNDARY)


async def insert_events(conn: asyncpg.Connection, chosen: list[tuple[int, int]]) -> None:
    """Events at chosen (txid, id) positions; the caller makes sure the server's
    transaction counter is past them, so every one is visible."""
    await conn.executemany(
        """insert into events (txid, id, type, payload) overriding system value
           values ($1::xid8, $2, 'test.at', '{}')""",
        chosen,
    )
    await conn.execute("select setval(pg_get_serial_sequence('events', 'id'), 1000000)")


async def read_all(conn: asyncpg.Connection, page: int) -> list[tuple[int, int]]:
    read: list[tuple[int, int]] = []
    cursor = START
    while batch := await events.read_feed(conn, cursor, page, ALL):
        read.extend((e.cursor.txid, e.id) for e in batch)
        cursor = batch[-1].cursor
    return read


async def test_the_feed_pages_across_digit_boundaries_at_every_page_size(
    conn: asyncpg.Connection, api: Api, xids_past_boundaries: None
) -> None:
    await insert_events(conn, BOUNDARY)
    key = await api_key(conn)

    for first in range(1, len(BOUNDARY) + 2):
        read: list[tuple[int, int]] = []
        after = None
        while True:
            page = (await api.data(FEED, {"after": after, "first": first}, auth=key))["events"]
            read.extend((Cursor.decode(e["cursor"]).txid, int(e["id"])) for e in page["events"])
            after = page["endCursor"]
            if not page["hasMore"]:
                break
        assert read == EXPECTED, f"first: {first}"


async def test_a_subscription_replays_across_digit_boundaries(
    conn: asyncpg.Connection, serve_live: ServeLive, xids_past_boundaries: None
) -> None:
    await insert_events(conn, BOUNDARY)
    await events.enqueue(conn, "test.end", None, {})
    key = await api_key(conn)
    early = Cursor(*EXPECTED[0]).encode()

    async with (
        serve_live() as port,
        ws_client(port, key) as session,
        contextlib.aclosing(subscribe(session, after=early)) as stream,
    ):
        received = await asyncio.wait_for(until_type(stream, "test.end"), 10)

    replayed = [(Cursor.decode(e["cursor"]).txid, int(e["id"])) for e in received[:-1]]
    assert replayed == EXPECTED[1:]
    assert received[-1]["type"] == "test.end"


async def test_the_listener_starts_after_the_numerically_last_event(
    dsn: str, conn: asyncpg.Connection, xids_past_boundaries: None
) -> None:
    await insert_events(conn, BOUNDARY)
    handed: list[str] = []

    async def on_events(new: NewEvents) -> None:
        handed.extend(e.type for e in new.events)

    assert await events.tail_cursor(conn) == Cursor(*EXPECTED[-1])
    listener = OutboxListener(dsn, on_events, poll_seconds=0.05)
    await listener.start()
    try:
        await events.enqueue(conn, "test.after_start", None, {})
        for _ in range(100):
            if handed:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a listener that started too early hands over more
    finally:
        await listener.stop()

    assert handed == ["test.after_start"]


async def test_pruning_across_digit_boundaries_deletes_every_older_event(
    conn: asyncpg.Connection, xids_past_boundaries: None
) -> None:
    await insert_events(conn, BOUNDARY)
    old = EXPECTED[:-1]
    await conn.execute(
        "update events set created_at = $1 where (txid, id) <= ($2::xid8, $3)",
        NOW - timedelta(days=40),
        *old[-1],
    )

    deleted = await retention.prune(conn, NOW - timedelta(days=30))

    assert deleted == len(old)
    assert await retention.horizon(conn) == Cursor(*old[-1])
    assert await read_all(conn, 100) == EXPECTED[-1:]


# Transaction ids near each digit boundary, and anywhere below the server's counter.
_TXIDS = st.one_of(st.integers(990, 1_010), st.integers(9_990, 10_010), st.integers(1, 12_000))
_EVENTS = st.lists(
    st.tuples(_TXIDS, st.integers(1, 20_000)), min_size=1, max_size=60, unique_by=lambda e: e[1]
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(chosen=_EVENTS, data=st.data())
def test_paging_reads_the_exact_sequence_while_events_are_committed(
    dsn: str, xids_past_boundaries: None, chosen: list[tuple[int, int]], data: st.DataObject
) -> None:
    """Random positions, random page sizes, and new transactions committing between pages:
    the pages joined are every event exactly once, in (txid, id) order."""
    asyncio.run(_page_while_committing(dsn, chosen, data))


async def _page_while_committing(
    dsn: str, chosen: list[tuple[int, int]], data: st.DataObject
) -> None:
    reader = await db.connect(dsn)
    writer = await db.connect(dsn)
    try:
        await reader.execute("truncate events")
        await insert_events(reader, chosen)
        committed: list[tuple[int, int]] = []
        read: list[tuple[int, int]] = []
        cursor = START
        while True:
            for _ in range(data.draw(st.integers(0, 2), label="commits before this page")):
                committed.append(await _commit_one(writer))
            page = await events.read_feed(
                reader, cursor, data.draw(st.integers(1, 25), label="page size"), ALL
            )
            if not page:
                break
            read.extend((e.cursor.txid, e.id) for e in page)
            cursor = page[-1].cursor
        assert read == sorted(chosen) + committed
    finally:
        await reader.close()
        await writer.close()


async def _commit_one(conn: asyncpg.Connection) -> tuple[int, int]:
    row: Any = await conn.fetchrow(
        "insert into events (type, payload) values ('test.live', '{}') returning txid, id"
    )
    return row["txid"], row["id"]
