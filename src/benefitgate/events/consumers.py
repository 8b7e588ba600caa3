"""Durable consumers of the outbox: a job that must see every event once keeps its own
cursor in `event_consumers` (one row per consumer, made by the migration that adds it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence

import asyncpg

from benefitgate.events.outbox import Cursor, Event, read_page

__all__ = ["follow"]

Handle = Callable[[asyncpg.Connection, Sequence[Event]], Awaitable[None]]


async def follow(
    conn: asyncpg.Connection,
    consumer: str,
    page_size: int,
    handle: Handle,
    skip: Collection[str] = (),
) -> int:
    """Hand `handle` the events after `consumer`'s cursor and move the cursor past them, a
    page per transaction with the cursor's row locked meanwhile, so runs on several replicas
    at once hand each event over once and a failed page is handed over again; returns the
    number of events read. Events come without payloads (`outbox.read_page`), for a
    consumer of their types and accounts; those of the types in `skip` are passed over."""
    read = 0
    while True:
        async with conn.transaction():
            row = await conn.fetchrow(
                "select txid, id from event_consumers where name = $1 for update", consumer
            )
            assert row is not None, f"a migration creates the {consumer!r} consumer's row"
            page = await read_page(conn, Cursor(row["txid"], row["id"]), page_size, skip)
            if page.last is None:
                return read
            await handle(conn, page.events)
            await conn.execute(
                "update event_consumers set txid = $2::xid8, id = $3 where name = $1",
                consumer,
                page.last.txid,
                page.last.id,
            )
        read += page.size
        if page.size < page_size:
            return read
