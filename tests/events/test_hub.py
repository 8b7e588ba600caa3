"""The fan-out hub and one subscriber's stream, driven directly with outbox events from a
real database: a subscriber that stops reading is closed without holding up the others,
and resuming from its cursor misses nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from benefitgate import db
from benefitgate.auth.principals import Principal, Role
from benefitgate.events import outbox as events
from benefitgate.events import readable
from benefitgate.events.hub import CloseReason, Hub, Interest
from benefitgate.events.outbox import START, Event
from benefitgate.events.stream import Closed, Expired, follow

ADMIN = Principal(Role.ADMIN, subject="test").event_reader()
NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await db.create_pool(dsn, min_size=1, max_size=4)
    yield created
    await created.close()


def _hub(capacity: int) -> Hub:
    return Hub(capacity=capacity, start=START)


async def _publish_new(conn: asyncpg.Connection, hub: Hub, now: datetime = NOW) -> None:
    """What the outbox listener does: hand the hub what is new, in batches."""
    new = await events.read_new(conn, hub.cursor, 3, await readable.take(conn))
    hub.publish(new.events, new.partners, now)


async def test_a_subscriber_that_stops_reading_catches_up_from_the_outbox_and_the_others_keep_up(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    hub = _hub(capacity=5)
    fast_stream = follow(pool, hub, ADMIN, Interest(), None)
    slow_stream = follow(pool, hub, ADMIN, Interest(), None)
    async with contextlib.aclosing(fast_stream), contextlib.aclosing(slow_stream):
        fast_next = asyncio.ensure_future(anext(fast_stream))
        slow_next = asyncio.ensure_future(anext(slow_stream))
        await asyncio.sleep(0)  # both register with the hub, then wait
        fast: list[Event | Closed | Expired] = []
        for n in range(30):
            await events.enqueue(conn, "test.n", None, {"n": n})
            await _publish_new(conn, hub)
            fast.append(await fast_next)
            fast_next = asyncio.ensure_future(anext(fast_stream))
        fast_next.cancel()
        # The slow one took its first event and then stopped reading: its queue of five
        # overflowed, and the hub closed it.
        slow = [await slow_next]
        slow += [await asyncio.wait_for(anext(slow_stream), 5) for _ in range(29)]
        # Caught up from the outbox, it joined the hub again and hears what comes next.
        await events.enqueue(conn, "test.n", None, {"n": 30})
        await _publish_new(conn, hub)
        slow.append(await asyncio.wait_for(anext(slow_stream), 5))

    assert [e.payload["n"] for e in fast if isinstance(e, Event)] == list(range(30))
    assert [e.payload["n"] for e in slow if isinstance(e, Event)] == list(range(31))


async def test_a_batch_handed_over_twice_is_queued_once(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    hub = _hub(capacity=10)
    stream = follow(pool, hub, ADMIN, Interest(), None)
    async with contextlib.aclosing(stream):
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        for n in range(3):
            await events.enqueue(conn, "test.n", None, {"n": n})
        batch = await events.read_new(conn, START, 10, await readable.take(conn))
        hub.publish(batch.events, batch.partners, NOW)
        hub.publish(batch.events, batch.partners, NOW)  # the listener retries after a failure
        await events.enqueue(conn, "test.n", None, {"n": 3})
        await _publish_new(conn, hub)
        got = [await waiting] + [await anext(stream) for _ in range(3)]

    assert [e.payload["n"] for e in got if isinstance(e, Event)] == [0, 1, 2, 3]


async def test_a_batch_that_starts_with_events_handed_over_queues_only_the_rest(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """The hub takes a whole batch as new when its first event is: one that overlaps the
    last must still be filtered event by event."""
    hub = _hub(capacity=10)
    stream = follow(pool, hub, ADMIN, Interest(), None)
    async with contextlib.aclosing(stream):
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        for n in range(2):
            await events.enqueue(conn, "test.n", None, {"n": n})
        first = await events.read_new(conn, START, 10, await readable.take(conn))
        hub.publish(first.events, first.partners, NOW)
        await events.enqueue(conn, "test.n", None, {"n": 2})
        again = await events.read_new(conn, START, 10, await readable.take(conn))
        assert len(again.events) == 3
        hub.publish(again.events, again.partners, NOW)
        await events.enqueue(conn, "test.n", None, {"n": 3})
        await _publish_new(conn, hub)
        got = [await waiting] + [await anext(stream) for _ in range(3)]

    assert [e.payload["n"] for e in got if isinstance(e, Event)] == [0, 1, 2, 3]


async def test_the_hand_over_neither_skips_nor_repeats_around_the_registration(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """Events published before the subscriber joins come from the outbox, later ones from
    the hub, and the hub's position at joining splits them exactly."""
    hub = _hub(capacity=100)
    for n in range(5):
        await events.enqueue(conn, "test.n", None, {"n": n})
    await _publish_new(conn, hub)  # three events reach the hub before anyone subscribes
    stream = follow(pool, hub, ADMIN, Interest(types=frozenset({"test.n"})), START)
    async with contextlib.aclosing(stream):
        replayed = [await anext(stream) for _ in range(5)]
        pending = asyncio.ensure_future(anext(stream))
        await _publish_new(conn, hub)  # the last two of the five: already delivered
        await events.enqueue(conn, "test.n", None, {"n": 5})
        await _publish_new(conn, hub)
        live = await asyncio.wait_for(pending, 5)

    assert [e.payload["n"] for e in [*replayed, live] if isinstance(e, Event)] == list(range(6))
    assert isinstance(live, Event) and isinstance(replayed[-1], Event)
    assert live.cursor > replayed[-1].cursor
    assert len(hub) == 0  # closing the stream unsubscribed it


async def test_a_subscriber_whose_credential_expired_hears_nothing_more(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    hub = _hub(capacity=10)
    expiring = Principal(
        Role.ADMIN, subject="token", expires_at=NOW + timedelta(minutes=5)
    ).event_reader()
    stream = follow(pool, hub, expiring, Interest(), None)
    async with contextlib.aclosing(stream):
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        await events.enqueue(conn, "test.n", None, {"n": 0})
        await _publish_new(conn, hub, NOW + timedelta(minutes=4))
        before = await waiting
        await events.enqueue(conn, "test.n", None, {"n": 1})
        await _publish_new(conn, hub, NOW + timedelta(minutes=5))
        closed = await anext(stream)

    assert isinstance(before, Event) and before.payload == {"n": 0}
    assert isinstance(closed, Closed) and closed.reason is CloseReason.CREDENTIAL_EXPIRED
    assert closed.resume_after == before.cursor and not closed.reason.retryable


async def test_a_subscriber_resuming_gets_what_the_hub_passed_over_before_it_joined(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """The listener passes over events while nobody subscribes, and the hub's position
    moves past them: a subscriber resuming from before them, whose replay of the outbox
    ended before they were written, replays them up to where it joins."""
    hub = _hub(capacity=10)
    await events.enqueue(conn, "test.n", None, {"n": 0})
    stream = follow(pool, hub, ADMIN, Interest(), START)
    async with contextlib.aclosing(stream):
        first = await anext(stream)  # replayed; the stream has not joined the hub yet
        await events.enqueue(conn, "test.n", None, {"n": 1})
        look = await events.read_new(conn, hub.cursor, 10, await readable.take(conn), ["test.n"])
        hub.publish(look.events, look.partners, NOW, look.reached)
        second = await asyncio.wait_for(anext(stream), 5)

    assert look.events == []
    assert [e.payload["n"] for e in (first, second) if isinstance(e, Event)] == [0, 1]


async def test_the_hub_stays_before_events_passed_over_once_someone_subscribed(
    conn: asyncpg.Connection,
) -> None:
    hub = _hub(capacity=10)
    await events.enqueue(conn, "test.n", None, {"n": 0})
    look = await events.read_new(conn, START, 10, await readable.take(conn), ["test.n"])
    hub.subscribe(ADMIN, Interest())
    hub.publish(look.events, look.partners, NOW, look.reached)
    assert hub.cursor == START


async def test_a_subscriber_joining_after_a_look_passed_over_events_gets_them_all_in_order(
    conn: asyncpg.Connection,
) -> None:
    """One transaction writes an event passed over, one handed out, one passed over (as
    ingest writes usage.recorded, then a threshold's event). A subscriber joins while the
    handler of that look runs (it awaits Redis before publishing): the hub queued the
    handed-out event and moved past the first passed over, which the listener's full
    look then did not queue. The hub now queues nothing of such a look; the full one
    queues all three, in order."""
    hub = _hub(capacity=10)
    async with conn.transaction():
        for n, kind in enumerate(("test.lean", "test.kept", "test.lean")):
            await events.enqueue(conn, kind, None, {"n": n})
    look = await events.read_new(conn, hub.cursor, 10, await readable.take(conn), ["test.lean"])
    subscriber = hub.subscribe(ADMIN, Interest())
    hub.publish(look.events, look.partners, NOW, look.reached if look.passed_over else None)
    assert subscriber.depth == 0 and hub.cursor == START

    full = await events.read_new(conn, hub.cursor, 10, await readable.take(conn))
    hub.publish(full.events, full.partners, NOW)
    got = await asyncio.wait_for(subscriber.take(), 5)

    assert [e.type for e in look.events] == ["test.kept"] and look.passed_over
    assert [(e.type, e.payload["n"]) for e in got] == [
        ("test.lean", 0), ("test.kept", 1), ("test.lean", 2),
    ]  # fmt: skip


async def test_a_stream_of_a_key_the_hub_knows_revoked_ends_before_it_replays_or_joins(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    # A stream whose replay began before the revocation, which the hub published to the
    # subscribers it had, heard live events under a revoked key once it joined; one that
    # starts now ends at once, replaying nothing.
    hub = _hub(capacity=10)
    keyed = Principal(Role.ADMIN, subject="key:0123456789ab").event_reader()
    await events.enqueue(conn, "api_key.revoked", None, {"key_id": "0123456789ab"})
    await _publish_new(conn, hub)
    for after in (START, None):
        stream = follow(pool, hub, keyed, Interest(), after)
        async with contextlib.aclosing(stream):
            ended = [item async for item in stream]

        [closed] = ended
        assert isinstance(closed, Closed) and closed.reason is CloseReason.UNAUTHENTICATED
        assert len(hub) == 0


async def _outbox_of_two_pages(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "insert into events (type, payload) select 'test.n', jsonb_build_object('n', n)"
        " from generate_series(0, 599) n"
    )


async def test_a_token_that_expires_during_a_long_replay_ends_the_stream_at_the_next_page(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """It replayed the whole outbox after expiry, and ended only on joining the hub."""
    await _outbox_of_two_pages(conn)
    hub = _hub(capacity=10)
    expiring = Principal(
        Role.ADMIN, subject="token", expires_at=NOW + timedelta(minutes=5)
    ).event_reader()
    hub.expire(NOW)
    stream = follow(pool, hub, expiring, Interest(), START)
    async with contextlib.aclosing(stream):
        first = await anext(stream)
        hub.expire(NOW + timedelta(minutes=5))  # as the app does every second
        rest = [item async for item in stream]

    assert isinstance(first, Event)
    *page, closed = rest
    assert len(page) == 499  # the page read before the expiry, then nothing more
    assert isinstance(closed, Closed) and closed.reason is CloseReason.CREDENTIAL_EXPIRED
    assert isinstance(page[-1], Event) and closed.resume_after == page[-1].cursor
    assert len(hub) == 0  # it never joined


async def test_a_key_revoked_during_a_long_replay_ends_the_stream_at_the_next_page(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    await _outbox_of_two_pages(conn)
    hub = Hub(capacity=10, start=await events.tail_cursor(conn))
    keyed = Principal(Role.ADMIN, subject="key:0123456789ab").event_reader()
    stream = follow(pool, hub, keyed, Interest(), START)
    async with contextlib.aclosing(stream):
        first = await anext(stream)
        await events.enqueue(conn, "api_key.revoked", None, {"key_id": "0123456789ab"})
        await _publish_new(conn, hub)  # the revocation, as the listener hands it over
        rest = [item async for item in stream]

    assert isinstance(first, Event)
    *page, closed = rest
    assert len(page) == 499
    assert isinstance(closed, Closed) and closed.reason is CloseReason.UNAUTHENTICATED
