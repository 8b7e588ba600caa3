"""Housekeeping each process runs at start-up and then hourly: partitions ahead of time
and dropped past the retention, and forgetting what only the accepted window needs (event
ids and idempotency keys past the dedup horizon, the distinct values of unique counts'
periods no event can land in any more)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import asyncpg

from benefitgate.api import idempotency
from benefitgate.clock import Clock
from benefitgate.metering import repository
from benefitgate.metering.partitions import Partitions

__all__ = ["maintain", "run_hourly"]

log = logging.getLogger("benefitgate.metering")

INTERVAL_SECONDS = 3600.0


async def maintain(conn: asyncpg.Connection, partitions: Partitions, now: datetime) -> None:
    """Idempotent, and safe to run on every replica at once. What is forgotten follows
    `partitions.window`: an event id outlives every event that could still carry it."""
    await partitions.ensure_around(conn, now)
    dropped = await partitions.drop_expired(conn, now)
    horizon = now - partitions.window.horizon
    ids = await repository.prune_event_ids(conn, horizon)
    keys = await idempotency.prune(conn, horizon)
    values = await repository.prune_unique_values(conn, horizon)
    if ids or keys or values or dropped:
        log.info(
            "pruned",
            extra={
                "event_ids": ids,
                "idempotency_keys": keys,
                "unique_values": values,
                "partitions": dropped,
            },
        )


async def run_hourly(pool: asyncpg.Pool, partitions: Partitions, clock: Clock) -> None:
    """Runs until cancelled; a failed round is logged and retried at the next one."""
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        try:
            async with pool.acquire() as conn:
                await maintain(conn, partitions, clock.now())
        except Exception:  # any failure (a connection ended under the pool raises
            # asyncpg's InterfaceError): escaping, it would end maintenance for good
            log.exception("metering maintenance failed")
