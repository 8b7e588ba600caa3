"""Delivery: replay then live with no gap and no repeat, per-subscriber bounded queues, the
milestone convenience stream, and typed answers to bad arguments."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from benefitgate import db
from benefitgate.events import outbox as events
from benefitgate.events.outbox import START, EventScope
from tests.conftest import ServeLive, api_key
from tests.fixtures.live import subscribe, ws_client

EVERYTHING = EventScope(everything=True)


async def _writers(dsn: str, transactions: int) -> None:
    """Three concurrent writers; some transactions hold several events and stay open a
    while, so commits land out of id order."""
    rng = random.Random(7)

    async def writer(w: int) -> None:
        c = await db.connect(dsn)
        try:
            for n in range(transactions):
                async with c.transaction():
                    for k in range(rng.randint(1, 3)):
                        await events.enqueue(c, "test.tick", None, {"w": w, "n": n, "k": k})
                    await asyncio.sleep(rng.random() * 0.01)
        finally:
            await c.close()

    await asyncio.gather(*(writer(w) for w in range(3)))


async def _tail(dsn: str) -> events.Cursor:
    """The outbox's tail, on a connection of its own (subscribers join concurrently)."""
    c = await db.connect(dsn)
    try:
        return await events.tail_cursor(c)
    finally:
        await c.close()


async def test_subscribers_joining_mid_stream_get_every_event_once_in_order(
    dsn: str, conn: asyncpg.Connection, live_port: int
) -> None:
    key = await api_key(conn)
    joined = [asyncio.Event() for _ in range(8)]  # set at a subscriber's first event

    async def subscriber(n: int, from_start: bool) -> tuple[events.Cursor, list[str]]:
        await asyncio.sleep(0.05 * n)
        after = START if from_start else await _tail(dsn)
        got = []
        async with (
            ws_client(live_port, key) as session,
            contextlib.aclosing(subscribe(session, after=after.encode())) as stream,
        ):
            async for event in stream:
                got.append(event)
                joined[n].set()
                if event["type"] == "test.end":
                    break
        return after, [e["cursor"] for e in got]

    results = asyncio.gather(
        *(asyncio.wait_for(subscriber(n, from_start=n % 2 == 0), 30) for n in range(8))
    )
    # Writing goes on until every subscriber has joined (or one has failed): each joins
    # mid-stream, however fast the writers are.
    while not all(j.is_set() for j in joined) and not results.done():
        await _writers(dsn, 10)
    await events.enqueue(conn, "test.end", None, {})
    heard = await results

    outbox = [e.cursor for e in await events.read_feed(conn, START, 10_000, EVERYTHING)]
    for after, cursors in heard:
        expected = [c.encode() for c in outbox if c > after]
        assert cursors == expected


async def test_a_transaction_larger_than_a_queue_reaches_its_subscriber_whole_and_in_order(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    """Such a transaction closed every stream that heard it as SLOW_CONSUMER, however fast
    each read: the stream now catches up from the outbox and joins the hub again."""
    key = await api_key(conn)
    async with (
        serve_live(live_queue_size=4) as port,
        ws_client(port, key) as session,
        contextlib.aclosing(subscribe(session)) as stream,
    ):
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.2)  # registered, with an empty queue of four
        async with conn.transaction():  # ten events reach the hub in one batch
            for n in range(10):
                await events.enqueue(conn, "test.burst", None, {"n": n})
        heard = [await asyncio.wait_for(first, 10)]
        heard += [await asyncio.wait_for(anext(stream), 10) for _ in range(9)]
        await events.enqueue(conn, "test.after", None, {"n": 10})  # live again
        heard.append(await asyncio.wait_for(anext(stream), 10))

    assert [e["__typename"] for e in heard] == ["Event"] * 11
    assert [e["payload"]["n"] for e in heard] == list(range(11))


async def test_milestone_reached_carries_only_milestones(
    conn: asyncpg.Connection, live_port: int
) -> None:
    document = """subscription($accounts: [ID!], $after: String) {
      milestoneReached(accountIds: $accounts, after: $after) {
        __typename ... on Event { id cursor type accountId payload createdAt } } }"""
    await events.enqueue(conn, "usage.threshold_crossed", None, {})
    await events.enqueue(conn, "milestone.reached", None, {"milestone": "first"})
    await events.enqueue(conn, "seats.changed", None, {})
    async with (
        ws_client(live_port, await api_key(conn)) as session,
        contextlib.aclosing(subscribe(session, after=START.encode(), document=document)) as stream,
    ):
        replayed = await asyncio.wait_for(anext(stream), 10)
        await events.enqueue(conn, "catalog.published", None, {})
        await events.enqueue(conn, "milestone.reached", None, {"milestone": "second"})
        live = await asyncio.wait_for(anext(stream), 10)

    assert [replayed["payload"], live["payload"]] == [
        {"milestone": "first"},
        {"milestone": "second"},
    ]
    assert {replayed["type"], live["type"]} == {"milestone.reached"}


async def _codes(stream: AsyncIterator[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["__typename"], a["code"]) async for a in stream]


async def test_bad_arguments_get_typed_answers(conn: asyncpg.Connection, live_port: int) -> None:
    asks: list[dict[str, Any]] = [
        {"after": "not a cursor"},
        {"accounts": ["not-a-uuid"]},
        {"accounts": [str(n) for n in range(101)]},
        {"types": [str(n) for n in range(51)]},
        # Each narrowed the stream to nothing: it stayed open, silent.
        {"accounts": []},
        {"types": []},
    ]
    answers = []
    async with ws_client(live_port, await api_key(conn)) as session:
        for arguments in asks:
            async with contextlib.aclosing(subscribe(session, **arguments)) as stream:
                answers.append(await asyncio.wait_for(_codes(stream), 10))

    assert answers == [[("InvalidInputError", "INVALID_INPUT")]] * 6
