"""What a rate limit costs a request: one token taken from a bucket in process and from a
bucket shared through Redis (the Lua script), against a Redis PING in the same run (the
floor of any shared bucket: one round trip).

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/ratelimit.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid

from redis.asyncio import Redis

from benefitgate.config import Quota
from benefitgate.limits.buckets import LocalBuckets
from benefitgate.limits.shared import SharedBuckets

ROUNDS, TAKES = 5, 2_000
QUOTA = Quota(1_000_000, 1)  # never empty: every take runs the whole script


async def per_call(call: object, n: int = TAKES) -> float:
    """Microseconds per awaited call, the median of ROUNDS rounds."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for i in range(n):
            await call(i)  # type: ignore[operator]
        rounds.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(rounds)


async def main() -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bg-bench:{uuid.uuid4().hex}:"
    local, shared, redis = LocalBuckets(), SharedBuckets(url, prefix), Redis.from_url(url)
    clock = time.time

    async def take_local(i: int) -> None:
        local.take(f"k{i % 100}", QUOTA, clock())

    async def take_shared(i: int) -> None:
        await shared.take(f"k{i % 100}", QUOTA, clock())

    async def ping(i: int) -> None:
        await redis.ping()

    try:
        await take_shared(0)  # connects and loads the script
        floor = await per_call(ping)
        in_redis = await per_call(take_shared)
        fell_back = shared.falling_back
        in_process = await per_call(take_local)
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await shared.close()
        await redis.aclose()
    print(f"Redis PING (floor)        {floor:8.1f} us")
    print(f"shared bucket (Lua)       {in_redis:8.1f} us   {in_redis / floor:.2f} x the floor")
    if fell_back:
        print("Redis timed out during the run: the shared figure is partly in process")
    print(f"bucket in process         {in_process:8.1f} us   {in_process / floor:.3f} x the floor")


if __name__ == "__main__":
    asyncio.run(main())
