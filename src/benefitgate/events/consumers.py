"""Durable consumers of the outbox: a job that must see every event once keeps its own
cursor in `event_consumers` (one row per consumer, made by the migration that adds it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from benefitgate.events.outbox import Cursor, Event, EventScope, read_feed

__all__ = ["follow"]

_EVERYTHING = EventScope(everything=True)

Handle = Callable[[asyncpg.Connection, Sequence[Event]], Awaitable[None]]


async def follow(
    conn: asyncpg.Connection,
    consumer: str,
    page_size: int,
    handle: Handle,
    payloads: bool = True,
) -> int:
    """Hand `handle` the events after `consumer`'s cursor and move the cursor past them, a
    page per transaction with the cursor's row locked meanwhile, so runs on several replicas
    at once hand each event over once and a failed page is handed over again; returns the
    number of events read. Without `payloads`, events come with empty payloads
    (`outbox.read_feed`), for a consumer of their types and accounts only."""
    read = 0
    while True:
        async with conn.transaction():
            row = await conn.fetchrow(
                "select txid, id from event_consumers where name = $1 for update", consumer
            )
            assert row is not None, f"a migration creates the {consumer!r} consumer's row"
            after = Cursor(row["txid"], row["id"])
            page = await read_feed(conn, after, page_size, _EVERYTHING, payloads=payloads)
            if not page:
                return read
            await handle(conn, page)
            last = page[-1].cursor
            await conn.execute(
                "update event_consumers set txid = $2::xid8, id = $3 where name = $1",
                consumer,
                last.txid,
                last.id,
            )
        read += len(page)
        if len(page) < page_size:
            return read
