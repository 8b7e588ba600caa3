"""The service's pool: Postgres cancels a statement that runs away."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import pytest
from asgi_lifespan import LifespanManager

from benefitgate import app as app_module
from benefitgate.clock import FixedClock
from benefitgate.config import Settings


async def test_a_pooled_statement_past_the_limit_is_cancelled(
    dsn: str, settings: Settings, clock: FixedClock
) -> None:
    # A usage series from 0001-01-01 once generated rows until the disk was full: whatever
    # the next runaway statement is, it ends as an error, releasing its connection.
    app = app_module.create_app(replace(settings, statement_seconds=0.2), dsn, clock=clock)
    async with LifespanManager(app):
        pool = app.state.benefitgate.pool
        assert await pool.fetchval("show statement_timeout") == "200ms"
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.fetchval("select pg_sleep(2)")
        assert await pool.fetchval("select 1") == 1
