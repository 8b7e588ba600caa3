"""The outbox listener's life cycle (what it may read is in test_readable)."""

from __future__ import annotations

import asyncio

import asyncpg

from benefitgate.events import outbox as events
from benefitgate.events import readable
from benefitgate.events.listener import OutboxListener
from benefitgate.events.outbox import START, Event, NewEvents
from tests.fixtures import factories


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


async def test_events_of_skipped_types_are_passed_over_and_the_look_reaches_past_them(
    conn: asyncpg.Connection,
) -> None:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    account = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    await events.enqueue(conn, "test.lean", account, {"n": 1})
    await events.enqueue(conn, "test.full", account, {"n": 2})
    await events.enqueue(conn, "test.lean", None, {"n": 3})
    probe = await readable.take(conn)

    lean = await events.read_new(conn, START, 10, probe, skip=["test.lean"])
    whole = await events.read_new(conn, START, 10, probe)
    first = await events.read_new(conn, START, 1, probe, skip=["test.lean"])
    page = await events.read_page(conn, START, 10, skip={"test.lean"})

    assert [(e.type, e.payload) for e in lean.events] == [("test.full", {"n": 2})]
    assert lean.partners == {account: frozenset({partner})}
    assert (lean.reached, lean.looked) == (whole.events[-1].cursor, 3)
    assert [e.payload for e in whole.events] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert (whole.reached, whole.looked) == (whole.events[-1].cursor, 3)
    assert (first.events, first.reached, first.looked) == ([], whole.events[0].cursor, 1)
    assert [(e.type, e.account_id, e.payload) for e in page.events] == [("test.full", account, {})]
    assert (page.last, page.size) == (whole.events[-1].cursor, 3)  # past those passed over


async def test_a_look_that_passed_over_every_event_moves_the_cursor_and_calls_the_handler(
    dsn: str, conn: asyncpg.Connection
) -> None:
    """The handler still hears of it (it wakes the webhook dispatcher, which may deliver
    the events passed over), with no events; the next look starts past them."""
    looks: asyncio.Queue[NewEvents] = asyncio.Queue()

    async def on_events(new: NewEvents) -> None:
        looks.put_nowait(new)

    listener = OutboxListener(
        dsn, on_events, poll_seconds=0.05, skip=lambda: frozenset({"test.lean"})
    )
    await events.enqueue(conn, "test.lean", None, {"n": 1})
    await events.enqueue(conn, "test.lean", None, {"n": 2})
    await listener.start()
    listener.cursor = START  # before its first look, which is then of the events above
    try:
        look = await asyncio.wait_for(looks.get(), 5)
        reached = listener.cursor
    finally:
        await listener.stop()

    assert (look.events, look.looked) == ([], 2)
    assert reached == await events.tail_cursor(conn)


async def test_a_look_is_made_again_when_what_is_skipped_changed_meanwhile(
    dsn: str, conn: asyncpg.Connection
) -> None:
    """A live subscriber joining while the listener passes events over: the events it is
    owed must reach the handler, with their payloads."""
    arrived: asyncio.Queue[Event] = asyncio.Queue()
    asked = 0

    def skip() -> frozenset[str]:
        nonlocal asked
        asked += 1
        return frozenset({"test.lean"}) if asked == 1 else frozenset()

    async def on_events(new: NewEvents) -> None:
        for event in new.events:
            arrived.put_nowait(event)

    listener = OutboxListener(dsn, on_events, poll_seconds=0.05, skip=skip)
    await events.enqueue(conn, "test.lean", None, {"n": 1})
    await listener.start()
    listener.cursor = START  # before its first look, which is then of the event above
    try:
        event = await asyncio.wait_for(arrived.get(), 5)
    finally:
        await listener.stop()

    assert (event.type, event.payload) == ("test.lean", {"n": 1})


async def test_a_look_is_handed_over_again_in_full_when_someone_subscribed_during_the_handler(
    dsn: str, conn: asyncpg.Connection
) -> None:
    """The hub then stays before the events passed over (they are owed to the subscriber):
    the listener hands the look over again, and the handler gets them."""
    looks: asyncio.Queue[NewEvents] = asyncio.Queue()
    subscribed = False

    def skip() -> frozenset[str]:
        return frozenset() if subscribed else frozenset({"test.lean"})

    async def on_events(new: NewEvents) -> None:
        nonlocal subscribed
        looks.put_nowait(new)
        subscribed = True  # someone subscribes while the first handler runs

    listener = OutboxListener(dsn, on_events, poll_seconds=0.05, skip=skip)
    await events.enqueue(conn, "test.lean", None, {"n": 1})
    await listener.start()
    listener.cursor = START  # before its first look, which is then of the event above
    try:
        first = await asyncio.wait_for(looks.get(), 5)
        second = await asyncio.wait_for(looks.get(), 5)
    finally:
        await listener.stop()

    assert first.events == []
    assert [(e.type, e.payload) for e in second.events] == [("test.lean", {"n": 1})]
