"""The outbox listener: an event held back by an older transaction in another database is
handed over soon after that transaction ends, not at the next timed poll."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from benefitgate import db, events
from benefitgate.events import Event, NewEvents
from benefitgate.listener import OutboxListener


async def test_an_event_held_back_by_another_database_is_delivered_soon_after(
    dsn: str, server: str, conn: asyncpg.Connection
) -> None:
    arrived: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()

    async def on_events(new: NewEvents) -> None:
        for event in new.events:
            arrived.put_nowait((time.monotonic(), event))

    listener = OutboxListener(dsn, on_events, poll_seconds=30)
    await listener.start()
    elsewhere = await db.connect(server)  # another database of the same server
    try:
        blocker = elsewhere.transaction()
        await blocker.start()
        await elsewhere.fetchval("select pg_current_xact_id()")  # takes a transaction id
        await events.enqueue(conn, "test.held", None, {})
        await asyncio.sleep(0.3)
        assert arrived.empty()  # committed, but an older transaction is still open
        released = time.monotonic()
        await blocker.rollback()
        at, event = await asyncio.wait_for(arrived.get(), 5)
    finally:
        await elsewhere.close()
        await listener.stop()

    assert event.type == "test.held"
    assert at - released < 1.0  # the timed poll would take 30 s
