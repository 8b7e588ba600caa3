"""The shared tier against real Redis: entries shared by replicas, the stamp check that
refuses a store begun before another replica's invalidation, flushes, the broadcast each
replica confirms, and Redis absent, stopping and coming back without a request failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from benefitgate.cache.local import Entry, LocalTier
from benefitgate.cache.responses import ResponseCache
from benefitgate.cache.shared import SharedTier
from benefitgate.clock import FixedClock
from tests.fixtures.factories import NOW
from tests.fixtures.live import free_port
from tests.fixtures.redis import PrivateRedis

TTL = 60.0


def _entry(body: bytes = b'{"data":{}}', tags: frozenset[str] = frozenset({"account:1"})) -> Entry:
    return Entry(body, '"e"', tags, None)


@pytest.fixture
async def replicas(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[tuple[SharedTier, SharedTier]]:
    a, b = SharedTier(redis_url, redis_prefix, TTL), SharedTier(redis_url, redis_prefix, TTL)
    assert await a.stamp() is not None and await b.stamp() is not None  # their start flushes
    yield a, b
    await a.close()
    await b.close()


async def test_an_entry_one_replica_stores_is_read_by_another(
    replicas: tuple[SharedTier, SharedTier],
) -> None:
    a, b = replicas
    stamp = await a.stamp()
    assert stamp is not None
    assert await a.put(stamp, "k", _entry(), NOW)
    found = await b.get("k")
    assert found is not None and found.body == b'{"data":{}}' and found.tags == {"account:1"}
    await b.invalidate({"account:1"})
    assert await a.get("k") is None


async def test_a_store_begun_before_another_replicas_invalidation_is_refused(
    replicas: tuple[SharedTier, SharedTier],
) -> None:
    a, b = replicas
    stamp = await a.stamp()
    assert stamp is not None
    await b.invalidate({"account:1"})  # between a's read and a's store
    assert not await a.put(stamp, "k", _entry(), NOW)
    assert await b.get("k") is None
    # Tags it did not read do not stop it, and a later stamp stores.
    assert await a.put(stamp, "k", _entry(tags=frozenset({"account:2"})), NOW)
    later = await a.stamp()
    assert later is not None and await a.put(later, "k1", _entry(), NOW)


async def test_a_miss_carries_the_stamp_its_store_is_checked_against(
    replicas: tuple[SharedTier, SharedTier],
) -> None:
    """`lookup` answers a miss with the stamp of that moment, in the same round trip: a
    store with it is refused after another replica's invalidation, kept otherwise, and a
    later lookup finds what it kept (with a stamp of its own)."""
    a, b = replicas
    missed, stamp = await a.lookup("k")
    assert missed is None and stamp is not None
    await b.invalidate({"account:1"})  # between a's lookup (and read) and a's store
    assert not await a.put(stamp, "k", _entry(), NOW)
    missed, stamp = await a.lookup("k")
    assert missed is None and stamp is not None
    assert await a.put(stamp, "k", _entry(), NOW)
    found, later = await b.lookup("k")
    assert found is not None and found.tags == {"account:1"} and later is not None
    await b.flush()  # a new generation: an earlier lookup's stamp no longer stores
    assert not await a.put(stamp, "k", _entry(), NOW)


async def test_a_flush_drops_everything_and_refuses_earlier_stamps(
    replicas: tuple[SharedTier, SharedTier],
) -> None:
    a, b = replicas
    stamp = await a.stamp()
    assert stamp is not None and await a.put(stamp, "k", _entry(), NOW)
    await b.flush()
    assert await a.get("k") is None
    assert not await a.put(stamp, "k", _entry(), NOW)


async def test_a_tier_starting_flushes_what_others_left(
    replicas: tuple[SharedTier, SharedTier], redis_url: str, redis_prefix: str
) -> None:
    a, _ = replicas
    stamp = await a.stamp()
    assert stamp is not None and await a.put(stamp, "k", _entry(), NOW)
    starting = SharedTier(redis_url, redis_prefix, TTL)
    try:
        assert await starting.get("k") is None
        assert await a.get("k") is None
    finally:
        await starting.close()


async def test_an_entry_lives_no_longer_than_its_instant(
    replicas: tuple[SharedTier, SharedTier],
) -> None:
    a, _ = replicas
    stamp = await a.stamp()
    assert stamp is not None
    until = NOW + timedelta(milliseconds=200)
    assert await a.put(stamp, "k", Entry(b"{}", '"e"', frozenset({"catalog"}), until), NOW)
    assert await a.get("k") is not None
    await asyncio.sleep(0.3)
    assert await a.get("k") is None


async def _leased(tier: SharedTier) -> None:
    for _ in range(400):
        if time.monotonic() < tier.broadcasts.heard_until:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no lease")


def _fresh() -> None:
    pass


async def test_a_broadcast_is_applied_and_confirmed_by_every_subscribed_replica(
    replicas: tuple[SharedTier, SharedTier],
) -> None:
    a, b = replicas
    heard: list[list[str]] = []

    async def on_tags(tags: list[str]) -> None:
        heard.append(tags)

    follower = asyncio.create_task(b.broadcasts.follow(on_tags, _fresh))
    try:
        await _leased(b)
        assert await a.broadcasts.broadcast({"account:1", "catalog"}) == 1
        assert heard == [["account:1", "catalog"]]
    finally:
        follower.cancel()
        await asyncio.wait({follower}, timeout=5)
        assert follower.cancelled(), "the follower ends when cancelled"


async def test_a_write_waits_out_the_lease_of_a_replica_that_did_not_confirm(
    redis_url: str, redis_prefix: str
) -> None:
    """A replica holding a lease whose subscription is gone (here: never made) hears
    nothing: the writer returns only once that lease has run out, when the replica's local
    tier is out of use; and at once when the replica gives its lease up."""
    a = SharedTier(redis_url, redis_prefix, TTL, lease_seconds=0.4)
    silent = SharedTier(redis_url, redis_prefix, TTL, lease_seconds=0.4)

    async def lease(ms: int) -> None:
        seconds, micros = await silent.client.time()
        expiry = seconds * 1000 + micros // 1000 + ms
        await silent.client.zadd(f"{redis_prefix}:replicas", {silent.broadcasts.id: expiry})

    try:
        await lease(400)
        started = time.monotonic()
        assert await a.broadcasts.broadcast({"account:1"}) == 0
        assert time.monotonic() - started >= 0.35
        await lease(60_000)
        writing = asyncio.create_task(a.broadcasts.broadcast({"account:1"}))
        await asyncio.sleep(0.1)
        assert not writing.done()
        await silent.broadcasts.leave()
        assert await asyncio.wait_for(writing, 0.3) == 0
    finally:
        await a.close()
        await silent.close()


async def test_a_lease_just_lapsed_by_redis_clock_is_still_waited_for(
    redis_url: str, redis_prefix: str
) -> None:
    """Redis's wall clock may step forward while a replica's own lease, timed on its
    monotonic clock, still runs: a lease lapsed by less than a lease is still listed and
    waited for; one lapsed by more is dropped."""
    a = SharedTier(redis_url, redis_prefix, TTL, lease_seconds=0.4)
    silent = SharedTier(redis_url, redis_prefix, TTL, lease_seconds=0.4)

    async def lease(ms: int) -> None:
        seconds, micros = await silent.client.time()
        expiry = seconds * 1000 + micros // 1000 + ms
        await silent.client.zadd(f"{redis_prefix}:replicas", {silent.broadcasts.id: expiry})

    try:
        await lease(-200)  # lapsed, as a clock stepped 200 ms ahead would make it
        started = time.monotonic()
        assert await a.broadcasts.broadcast({"account:1"}) == 0
        # Waited for until it had lapsed by a whole lease (200 ms more), then dropped.
        assert time.monotonic() - started >= 0.15
        await lease(-1_000)  # lapsed long ago: a replica gone
        started = time.monotonic()
        assert await a.broadcasts.broadcast({"account:1"}) == 0
        assert time.monotonic() - started < 0.35  # not waited for: less than its lease
    finally:
        await a.close()
        await silent.close()


async def test_no_redis_listening_fails_nothing_and_costs_little() -> None:
    tier = SharedTier(f"redis://127.0.0.1:{free_port()}/0", "bgtest:absent", TTL)
    cache = ResponseCache(LocalTier(10, 100_000), FixedClock(NOW), tier)
    try:
        started = time.monotonic()
        ticket = await cache.begin()
        assert ticket.shared is None
        # No lease on the broadcasts: another replica's write may go unheard, so the
        # local tier is out of use, and Postgres answers.
        assert not await cache.store(ticket, "k", b"{}", {"catalog"}, None)
        assert (await cache.lookup("k")) is None
        await cache.invalidate({"catalog"})
        assert await tier.broadcasts.broadcast({"catalog"}) is None
        assert time.monotonic() - started < 2.0
    finally:
        await tier.close()


async def test_redis_restarting_is_survived_and_the_tier_comes_back_by_itself(
    tmp_path: Path,
) -> None:
    server = PrivateRedis(tmp_path)
    await server.start()
    tier = SharedTier(server.url, "bgtest:restart", TTL)
    cache = ResponseCache(LocalTier(10, 100_000), FixedClock(NOW), tier)
    follower = asyncio.create_task(cache.follow())
    try:
        await _leased(tier)
        ticket = await cache.begin()
        assert ticket.shared is not None
        assert await cache.store(ticket, "k", b"{}", {"catalog"}, None)
        assert cache.local_hit("k") is not None
        assert await tier.get("k") is not None
        await server.stop()
        assert await tier.get("k") is None  # down: a miss, not an error
        for _ in range(100):  # the subscription's loss takes the local tier out of use
            if not cache.local_usable:
                break
            await asyncio.sleep(0.01)
        assert (await cache.lookup("k")) is None
        assert (await cache.begin()).shared is None
        await server.start()
        await _leased(tier)  # back within its pauses, with no one's help
        assert cache.local_hit("k") is None  # emptied: it may have missed broadcasts
        for _ in range(100):
            if (await cache.begin()).shared is not None:
                break
            await asyncio.sleep(0.05)
        again = await cache.begin()
        assert again.shared is not None
        assert await cache.store(again, "k2", b"{}", {"catalog"}, None)
        assert cache.local_hit("k2") is not None
        assert await tier.get("k2") is not None
    finally:
        follower.cancel()
        await asyncio.wait({follower}, timeout=5)
        await tier.close()
        await server.stop()


async def test_a_lease_that_ran_out_empties_the_local_tier_before_it_is_used_again(
    tmp_path: Path,
) -> None:
    """Redis stalls for longer than a lease: a writer may have given up on reaching this
    replica, so what its local tier held goes, though its subscription never dropped."""
    server = PrivateRedis(tmp_path, "--enable-debug-command", "local")
    await server.start()
    tier = SharedTier(server.url, "bgtest:stall", TTL, lease_seconds=0.3)
    cache = ResponseCache(LocalTier(10, 100_000), FixedClock(NOW), tier)
    follower = asyncio.create_task(cache.follow())
    admin = Redis.from_url(server.url)  # no timeout of the tier's
    try:
        await _leased(tier)
        assert await cache.store(await cache.begin(), "k", b"{}", {"catalog"}, None)
        assert cache.local_hit("k") is not None
        sleep = admin.execute_command("DEBUG", "SLEEP", "0.8")  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        stall = asyncio.create_task(sleep)
        await asyncio.sleep(0.5)
        assert not cache.local_usable
        await stall
        await _leased(tier)
        assert cache.local_hit("k") is None
    finally:
        follower.cancel()
        await asyncio.wait({follower}, timeout=5)
        await admin.aclose()
        await tier.close()
        await server.stop()
