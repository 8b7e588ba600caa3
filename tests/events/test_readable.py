"""The outbox horizon: only this database's open transactions hold events back.

A long transaction in another database of the same server (a report, a dump, another
application) must not stall live events, webhooks or cache invalidation; a transaction of
this database that took its id early and commits late must never be skipped, however its
commit interleaves with a reader's probe and snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import asyncpg
import pytest

from benefitgate import db
from benefitgate.events import outbox as events
from benefitgate.events import readable
from benefitgate.events.listener import OutboxListener
from benefitgate.events.outbox import START, Cursor, Event, EventScope, NewEvents

ALL = EventScope(everything=True)


class _RollBack(Exception):
    pass


async def _open_transaction(conn: asyncpg.Connection) -> asyncpg.transaction.Transaction:
    """A transaction that has taken its id, left open."""
    transaction = conn.transaction()
    await transaction.start()
    await conn.fetchval("select pg_current_xact_id()")
    return transaction


async def test_an_open_transaction_in_another_database_holds_nothing_back(
    server: str, conn: asyncpg.Connection
) -> None:
    elsewhere = await db.connect(server)
    try:
        blocker = await _open_transaction(elsewhere)
        await events.enqueue(conn, "test.free", None, {})
        page = await events.read_feed(conn, START, 10, ALL)
        tail = await events.tail_cursor(conn)
        await blocker.rollback()
    finally:
        await elsewhere.close()

    assert [e.type for e in page] == ["test.free"]
    assert tail == page[-1].cursor


async def test_the_listener_hands_over_at_once_while_another_database_holds_a_transaction(
    dsn: str, server: str, conn: asyncpg.Connection
) -> None:
    arrived: asyncio.Queue[Event] = asyncio.Queue()

    async def on_events(new: NewEvents) -> None:
        for event in new.events:
            arrived.put_nowait(event)

    listener = OutboxListener(dsn, on_events, poll_seconds=30)
    await listener.start()
    elsewhere = await db.connect(server)
    try:
        blocker = await _open_transaction(elsewhere)
        await events.enqueue(conn, "test.free", None, {})
        event = await asyncio.wait_for(arrived.get(), 5)  # the blocker is still open
        await blocker.rollback()
    finally:
        await elsewhere.close()
        await listener.stop()

    assert event.type == "test.free"


async def test_an_open_transaction_of_this_database_holds_later_events_until_it_ends(
    dsn: str, conn: asyncpg.Connection
) -> None:
    arrived: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()

    async def on_events(new: NewEvents) -> None:
        for event in new.events:
            arrived.put_nowait((time.monotonic(), event))

    listener = OutboxListener(dsn, on_events, poll_seconds=30)
    await listener.start()
    here = await db.connect(dsn)
    try:
        blocker = await _open_transaction(here)
        await events.enqueue(conn, "test.held", None, {})
        await asyncio.sleep(0.3)
        held = arrived.empty()
        released = time.monotonic()
        await blocker.rollback()
        at, event = await asyncio.wait_for(arrived.get(), 5)
    finally:
        await here.close()
        await listener.stop()

    assert held  # committed, but an older transaction of this database is still open
    assert event.type == "test.held"
    assert at - released < 1.0  # looked again soon: the timed poll would take 30 s


async def test_a_transaction_elsewhere_younger_than_the_probe_holds_back_until_the_next_look(
    server: str, conn: asyncpg.Connection
) -> None:
    """The probe cannot tell whose a transaction is that took its id after the probe: it
    is counted as possibly ours for one look, then known for what it is."""
    first = await events.read_new(conn, START, 10, readable.CAUTIOUS)
    elsewhere = await db.connect(server)
    try:
        blocker = await _open_transaction(elsewhere)
        await events.enqueue(conn, "test.later", None, {})
        cautious = await events.read_new(conn, START, 10, first.probe)
        informed = await events.read_new(conn, START, 10, cautious.probe)
        await blocker.rollback()
    finally:
        await elsewhere.close()

    assert (cautious.events, cautious.held_back) == ([], True)
    assert [e.type for e in informed.events] == ["test.later"] and not informed.held_back


@pytest.mark.parametrize(
    ("isolation", "informed"),
    [("read_committed", True), ("repeatable_read", False), ("serializable", False)],
)
async def test_inside_a_transaction_only_read_committed_probes(
    conn: asyncpg.Connection, isolation: str, informed: bool
) -> None:
    """A probe must come before the reading statement's snapshot; a transaction with one
    snapshot for all its statements took it earlier, so the reader stays cautious."""
    async with conn.transaction(isolation=isolation):
        probe = await readable.take(conn)
    assert (probe != readable.CAUTIOUS) is informed


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_readers_miss_nothing_while_transactions_commit_out_of_order(
    dsn: str, server: str, conn: asyncpg.Connection, seed: int
) -> None:
    """Writers of this database take their ids, wait a random while and commit (or roll
    back) out of order, while transactions elsewhere come and go; a listener-style reader
    (each look's probe feeding the next) and a feed reader (a probe per page) page
    through concurrently. Each hands out every committed event exactly once, in order."""
    rng = random.Random(seed)
    committed: list[int] = []
    writing = True

    async def write(n: int) -> None:
        writer = await db.connect(dsn)
        try:
            for _ in range(15):
                with contextlib.suppress(_RollBack):
                    async with writer.transaction():
                        await writer.fetchval("select pg_current_xact_id()")
                        await asyncio.sleep(rng.random() * 0.02)
                        event_id = await events.enqueue(writer, "test.w", None, {"n": n})
                        if rng.random() < 0.2:
                            raise _RollBack
                        await asyncio.sleep(rng.random() * 0.01)
                    committed.append(event_id)
        finally:
            await writer.close()

    async def disturb() -> None:
        other = await db.connect(server)
        try:
            while writing:
                held = await _open_transaction(other)
                await asyncio.sleep(rng.random() * 0.03)
                await held.rollback()
        finally:
            await other.close()

    async def follow_new(reader: asyncpg.Connection) -> list[Event]:
        seen: list[Event] = []
        cursor, probe = START, readable.CAUTIOUS
        while writing or await _more(reader, cursor):
            new = await events.read_new(reader, cursor, 7, probe)
            probe = new.probe
            seen += new.events
            cursor = new.events[-1].cursor if new.events else cursor
            await asyncio.sleep(0.001)
        return seen

    async def follow_feed(reader: asyncpg.Connection) -> list[Event]:
        seen: list[Event] = []
        cursor = START
        while writing or await _more(reader, cursor):
            page = await events.read_feed(reader, cursor, 5, ALL)
            seen += page
            cursor = page[-1].cursor if page else cursor
            await asyncio.sleep(0.001)
        return seen

    readers = [await db.connect(dsn), await db.connect(dsn)]
    try:
        following = asyncio.gather(follow_new(readers[0]), follow_feed(readers[1]))
        disturbing = asyncio.gather(disturb(), disturb())
        await asyncio.gather(*(write(n) for n in range(6)))
        writing = False
        by_listener, by_feed = await asyncio.wait_for(following, 60)
        await disturbing
    finally:
        for reader in readers:
            await reader.close()

    for seen in (by_listener, by_feed):
        assert sorted(e.id for e in seen) == sorted(committed)  # all, once each
        assert [e.cursor for e in seen] == sorted(e.cursor for e in seen)  # in order


async def _more(conn: asyncpg.Connection, after: Cursor) -> bool:
    """Whether committed events lie after `after` (once writers are done)."""
    found: bool = await conn.fetchval(
        "select exists (select 1 from events where (txid, id) > ($1::xid8, $2))",
        after.txid,
        after.id,
    )
    return found
