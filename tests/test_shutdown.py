"""Shutdown ends even when something still holds a pooled connection; a start that fails
leaves nothing open behind it."""

from __future__ import annotations

import asyncio
import gc
import os
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from asgi_lifespan import LifespanManager

from benefitgate import app as app_module
from benefitgate.clock import FixedClock
from benefitgate.config import Settings


async def test_a_connection_held_past_shutdown_is_terminated_not_waited_for(
    dsn: str,
    settings: Settings,
    clock: FixedClock,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_module, "POOL_CLOSE_SECONDS", 0.2)
    app = app_module.create_app(settings, dsn, clock=clock)
    # asyncpg's own close would wait for the held connection for ever; the manager gives
    # the shutdown 10 s before it fails the test.
    async with LifespanManager(app, shutdown_timeout=10):
        held = await app.state.benefitgate.pool.acquire()
        backend = await held.fetchval("select pg_backend_pid()")

    # The server sees the closed socket a moment later.
    for _ in range(100):
        gone = not await conn.fetchval(
            "select exists (select from pg_stat_activity where pid = $1)", backend
        )
        if gone:
            break
        await asyncio.sleep(0.05)
    assert gone


@pytest.mark.parametrize(
    ("refused", "why"),
    [
        # At the usage window's check: after the pool, the webhooks' HTTP client and the
        # response cache's Redis tier were made.
        ({"backfill_days": 90, "usage_retention_days": 60}, "must cover the backfill window"),
        # At the self-serve policy's: the last step, after the listener started too.
        ({"self_serve": frozenset({"refund"})}, "BENEFITGATE_SELF_SERVE: unknown refund"),
    ],
)
async def test_a_start_that_fails_closes_everything_it_opened(
    dsn: str,
    settings: Settings,
    clock: FixedClock,
    conn: asyncpg.Connection,
    refused: dict[str, Any],
    why: str,
) -> None:
    # With the Redis tiers when there is a Redis: their clients are closed too.
    redis_url = os.environ.get("REDIS_URL")
    given = replace(settings, response_cache=True, redis_url=redis_url, **refused)
    app = app_module.create_app(given, dsn, clock=clock)
    with pytest.raises(ValueError, match=why):
        async with LifespanManager(app):
            pass

    # Collected now rather than during a later test: an HTTP client or connection left
    # open warns as it is collected, which fails this test (warnings are errors).
    gc.collect()
    others = """select count(*) from pg_stat_activity
                where datname = current_database() and pid <> pg_backend_pid()"""
    for _ in range(100):  # the server sees a closed socket a moment later
        if await conn.fetchval(others) == 0:
            break
        await asyncio.sleep(0.05)
    assert await conn.fetchval(others) == 0
