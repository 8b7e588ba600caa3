"""The outbox listener: an event held back by an older transaction in another database is
handed over soon after that transaction ends, not at the next timed poll."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from benefitgate import db
from benefitgate.events import outbox as events
from benefitgate.events.listener import OutboxListener
from benefitgate.events.outbox import Event, NewEvents


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


async def test_stopping_as_a_notification_arrives_still_stops(dsn: str) -> None:
    """A replica shutting down while events flow: the wake-up and the cancellation land in
    the same turn of the loop. Python 3.11's `asyncio.wait_for` returns the finished wait
    and drops such a cancellation, so the listener kept following and shutdown hung."""

    async def on_events(new: NewEvents) -> None:
        pass

    listener = OutboxListener(dsn, on_events, poll_seconds=30)
    await listener.start()
    await asyncio.sleep(0.05)  # the listener waits for a wake-up
    listener._notified()  # what a NOTIFY calls; stop() cancels in the same turn
    stopping = asyncio.ensure_future(listener.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    if not done:
        stopping.cancel()  # stop() cancels the listener again, which then ends
        await asyncio.wait({stopping})
    assert done, "the listener did not stop"
