"""Shutdown ends even when something still holds a pooled connection."""

from __future__ import annotations

import asyncio

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
