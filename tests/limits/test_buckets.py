"""Token buckets: never more requests than the quota allows over any stretch of time, a
refused caller told when a token is back, and the Lua script in Redis deciding exactly as
the arithmetic in process does (so a replica falling back loses nothing of the rule)."""

from __future__ import annotations

import asyncio
import itertools
import math
import socket
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError

from benefitgate.config import Quota
from benefitgate.limits.buckets import LocalBuckets
from benefitgate.limits.shared import SharedBuckets
from tests.fixtures.redis import RedisTier

quotas = st.builds(Quota, st.integers(1, 50), st.integers(1, 120))
# Gaps between requests in milliseconds (whole numbers, so both sides see the same times).
gaps = st.lists(st.integers(0, 20_000), min_size=1, max_size=80)


def instants(steps: list[int]) -> list[float]:
    now, out = 1_700_000_000.0, []
    for step in steps:
        now += step / 1000
        out.append(now)
    return out


@given(quotas, gaps)
def test_no_stretch_of_time_allows_more_than_the_quota_refills(
    quota: Quota, steps: list[int]
) -> None:
    buckets = LocalBuckets()
    times = instants(steps)
    allowed = [t for t in times if buckets.take("k", quota, t).allowed]
    rate = quota.requests / quota.seconds
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            # A full bucket, then what refills between the first and the last of them.
            assert j - i + 1 <= quota.requests + math.floor((allowed[j] - start) * rate + 1e-9)


@given(quotas, gaps)
def test_a_refused_request_is_told_when_a_token_is_back(quota: Quota, steps: list[int]) -> None:
    buckets = LocalBuckets()
    for now in instants(steps):
        decision = buckets.take("k", quota, now)
        if decision.allowed:
            assert decision.retry_after == 0 and decision.remaining >= 0
            continue
        assert decision.remaining == 0 and decision.retry_after >= 1
        probe = LocalBuckets()
        probe._buckets = dict(buckets._buckets)  # type: ignore[assignment]
        assert probe.take("k", quota, now + decision.retry_after).allowed


def test_buckets_of_different_keys_are_independent() -> None:
    buckets, quota = LocalBuckets(), Quota(1, 60)
    assert buckets.take("a", quota, 0.0).allowed
    assert not buckets.take("a", quota, 1.0).allowed
    assert buckets.take("b", quota, 1.0).allowed


def test_a_clock_reading_behind_the_buckets_refills_nothing() -> None:
    buckets, quota = LocalBuckets(), Quota(2, 10)
    assert buckets.take("k", quota, 100.0).allowed
    assert buckets.take("k", quota, 100.0).allowed
    assert not buckets.take("k", quota, 90.0).allowed  # another replica, ten seconds behind
    assert buckets.take("k", quota, 105.0).allowed


_examples = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(quota=quotas, steps=gaps)
async def test_redis_decides_exactly_as_the_process_does(
    redis_tier: RedisTier, quota: Quota, steps: list[int]
) -> None:
    shared = SharedBuckets(redis_tier.url, redis_tier.prefix)
    local = LocalBuckets()
    key = f"example-{next(_examples)}"
    here, there = [], []
    try:
        for now in instants(steps):
            a, b = local.take(key, quota, now), await shared.take(key, quota, now)
            here.append((a.allowed, a.remaining, a.reset_seconds, a.retry_after))
            there.append((b.allowed, b.remaining, b.reset_seconds, b.retry_after))
    finally:
        await shared.close()
    assert here == there


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    quota=quotas,
    takes=st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 5_000)), max_size=60),
)
async def test_takes_of_one_turn_go_in_one_call_and_decide_as_if_one_by_one(
    redis_tier: RedisTier, quota: Quota, takes: list[tuple[str, int]]
) -> None:
    """Takes begun in one turn of the event loop, some from one bucket, at instants in any
    order: one call to Redis, and each answered as the process decides them in turn."""
    shared = SharedBuckets(redis_tier.url, redis_tier.prefix)
    calls = []
    script = shared._script

    async def counted(**kwargs: Any) -> Any:
        calls.append(len(kwargs["keys"]))
        return await script(**kwargs)

    shared._script = counted  # type: ignore[assignment]  # the real script, counted
    local = LocalBuckets()
    run = next(_examples)
    at = [(f"example-{run}-{name}", 1_700_000_000 + ms / 1000) for name, ms in takes]
    try:
        there = await asyncio.gather(*(shared.take(key, quota, now) for key, now in at))
    finally:
        await shared.close()
    here = [local.take(key, quota, now) for key, now in at]
    assert there == here
    assert calls == ([len(takes)] if takes else [])


async def test_takes_while_redis_is_unreachable_are_decided_here_as_the_process_does() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shared = SharedBuckets(f"redis://127.0.0.1:{port}/0", "bg-test:")
    quota, local = Quota(3, 60), LocalBuckets()
    try:
        there = await asyncio.gather(*(shared.take("k", quota, 1_700_000_000.0) for _ in range(5)))
        assert shared.falling_back
        there.append(await shared.take("k", quota, 1_700_000_030.0))  # no call meanwhile
    finally:
        await shared.close()
    here = [local.take("k", quota, 1_700_000_000.0) for _ in range(5)]
    here.append(local.take("k", quota, 1_700_000_030.0))
    assert there == here
    assert [d.allowed for d in there] == [True, True, True, False, False, True]


async def test_takes_begun_while_a_call_is_under_way_go_together_in_the_next(
    redis_tier: RedisTier,
) -> None:
    shared = SharedBuckets(redis_tier.url, redis_tier.prefix)
    calls, script = [], shared._script
    release, under_way = asyncio.Event(), asyncio.Event()

    async def held(**kwargs: Any) -> Any:  # the real script; the first call held back
        calls.append(len(kwargs["keys"]))
        if len(calls) == 1:
            under_way.set()
            await release.wait()
        return await script(**kwargs)

    shared._script = held  # type: ignore[assignment]
    quota, now = Quota(5, 60), 1_700_000_000.0
    try:
        first = asyncio.create_task(shared.take("k", quota, now))
        await asyncio.wait_for(under_way.wait(), 5)
        later = [asyncio.create_task(shared.take("k", quota, now)) for _ in range(6)]
        await asyncio.sleep(0.05)
        assert calls == [1]  # nothing else goes while a call is under way
        release.set()
        decisions = [await first, *[await take for take in later]]
    finally:
        await shared.close()
    assert calls == [1, 6]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2


async def test_takes_waiting_behind_a_call_that_fails_are_decided_here_without_another() -> None:
    """Redis failed while they waited: they do not wait for another attempt of their own."""
    shared = SharedBuckets("redis://127.0.0.1:1/0", "bg-test:")
    calls, release, under_way = [], asyncio.Event(), asyncio.Event()

    async def failing(**kwargs: Any) -> Any:
        calls.append(len(kwargs["keys"]))
        under_way.set()
        await release.wait()
        raise RedisConnectionError("connection refused")

    shared._script = failing  # type: ignore[assignment]
    quota, now = Quota(3, 60), 1_700_000_000.0
    try:
        first = asyncio.create_task(shared.take("k", quota, now))
        await asyncio.wait_for(under_way.wait(), 5)
        later = [asyncio.create_task(shared.take("k", quota, now)) for _ in range(4)]
        await asyncio.sleep(0.05)
        release.set()
        decisions = [await first, *[await take for take in later]]
    finally:
        await shared.close()
    assert calls == [1]
    assert shared.falling_back
    assert [d.allowed for d in decisions] == [True] * 3 + [False] * 2
