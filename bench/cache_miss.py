"""What a response cache miss costs the app beyond executing the query: the ASGI app
driven directly (no client, no server, no socket), CPU time per request.

Seeds BENCH_ACCOUNTS (default 500) demo accounts into a fresh database and reads the
account view of `account_view.py` for random accounts BENCH_REQUESTS times (default
2,000) in each of three set-ups, built the same way:

1. the response cache off: the view executed, nothing else (the floor of a miss);
2. the cache on, its local tier only: each request preceded by an invalidation of its
   account, so each one misses, executes, and is stored;
3. the same with Redis as the shared tier (REDIS_URL; skipped without it): the lookup and
   the store are Redis round trips too.

The invalidations' own CPU is measured apart and left out. Prints the CPU per request of
each and what a miss adds to an execution, with the time the cache's own steps took.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/cache_miss.py
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asgi_lifespan import LifespanManager

from benefitgate.app import create_app
from benefitgate.cache.tags import account_tag
from benefitgate.config import Settings

os.environ.setdefault("BENEFITGATE_RATE_ADMIN", "off")  # as the service benchmarks run it
from account_view import QUERY, prepare, server_dsn
from profile_check import call, scope_of
from scratch import scratch_database

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "500"))


def timed(obj: Any, name: str, spent: dict[str, float]) -> None:
    """Add the CPU each call of `obj.name` (a coroutine method) takes to `spent[name]`."""
    method: Callable[..., Awaitable[Any]] = getattr(obj, name)

    @functools.wraps(method)
    async def measured(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return await method(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - began

    setattr(obj, name, measured)


async def run(
    dsn: str, key: str, ids: list[str], label: str, cache: bool, redis: str | None
) -> float:
    base = Settings.from_env()
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    settings = Settings(**{**fields, "database_url": dsn, "data_dir": Path(tempfile.mkdtemp()),
                           "log_level": "WARNING", "response_cache": cache, "redis_url": redis,
                           "scheduler_seconds": 0})  # fmt: skip
    app = create_app(settings, dsn)
    bodies = {a: json.dumps({"query": QUERY, "variables": {"id": a}}).encode() for a in ids}
    order = [random.choice(ids) for _ in range(REQUESTS)]
    spent: dict[str, float] = {}
    async with LifespanManager(app) as manager:
        front = app.state.benefitgate.front
        for account in ids:  # every snapshot, plan and row type read once
            assert await call(manager.app, scope_of(key, bodies[account]), bodies[account]) == 200
        if front is not None:  # (`lookup` and `begin` before `find` took both at once)
            for name in ("find", "lookup", "begin"):
                if hasattr(front, name):
                    timed(front, name, spent)
            timed(front.cache, "store", spent)
        invalidating = 0.0
        started = time.process_time()
        for account in order:
            if front is not None:
                began = time.process_time()
                await front.cache.invalidate({account_tag(account)})
                invalidating += time.process_time() - began
            await call(manager.app, scope_of(key, bodies[account]), bodies[account])
        used = (time.process_time() - started - invalidating) / REQUESTS * 1e6
    steps = ", ".join(
        f"{name} {seconds / REQUESTS * 1e6:.0f} us" for name, seconds in spent.items()
    )
    print(f"{label:<34} {used:6.0f} us of CPU a request" + (f"  ({steps})" if steps else ""))
    return used


async def main_async(dsn: str, key: str, ids: list[str]) -> None:
    redis = os.environ.get("REDIS_URL") or None
    print(f"the account view, {REQUESTS} requests over {len(ids)} accounts, CPU in process")
    executed = await run(dsn, key, ids, "cache off (executed)", False, None)
    local = await run(dsn, key, ids, "miss, local tier", True, None)
    print(f"  a miss adds {local - executed:.0f} us to an execution (local tier)")
    if redis is None:
        print("REDIS_URL is not set: the shared tier's miss is not measured")
        return
    shared = await run(dsn, key, ids, "miss, local tier and Redis", True, redis)
    print(f"  a miss adds {shared - executed:.0f} us to an execution (with Redis)")


def main() -> None:
    server, embedded = server_dsn()
    dsn, key, ids = asyncio.run(prepare(server, scratch_database(server, embedded), ACCOUNTS))
    asyncio.run(main_async(dsn, key, ids))


if __name__ == "__main__":
    main()
