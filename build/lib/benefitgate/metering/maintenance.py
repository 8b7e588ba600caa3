"""Housekeeping each process runs at start-up and then hourly: partitions ahead of time,
and forgetting event ids and idempotency keys once they are past the accepted window."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import asyncpg

from benefitgate.api import idempotency
from benefitgate.clock import Clock
from benefitgate.metering import repository
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.rules import WINDOW_AHEAD, WINDOW_BACK

__all__ = ["KEEP", "maintain", "run_hourly"]

log = logging.getLogger("benefitgate.metering")

# An id must outlive every event that could still arrive with it: the whole window, plus a day.
KEEP = WINDOW_BACK + WINDOW_AHEAD + timedelta(days=1)
INTERVAL_SECONDS = 3600.0


async def maintain(conn: asyncpg.Connection, partitions: Partitions, now: datetime) -> None:
    """Idempotent, and safe to run on every replica at once."""
    await partitions.ensure_around(conn, now)
    ids = await repository.prune_event_ids(conn, now - KEEP)
    keys = await idempotency.prune(conn, now - KEEP)
    if ids or keys:
        log.info("pruned", extra={"event_ids": ids, "idempotency_keys": keys})


async def run_hourly(pool: asyncpg.Pool, partitions: Partitions, clock: Clock) -> None:
    """Runs until cancelled; a failed round is logged and retried at the next one."""
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        try:
            async with pool.acquire() as conn:
                await maintain(conn, partitions, clock.now())
        except (OSError, asyncpg.PostgresError):
            log.exception("metering maintenance failed")
