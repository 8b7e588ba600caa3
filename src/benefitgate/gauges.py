"""The gauges: what this process holds right now (pool connections, live subscribers and
their queues) and the webhook backlog read from the database.

Counters and histograms are recorded where things happen; gauges are read here, when
this process answers a scrape, and every few seconds for scrapes another worker answers
(with several workers, any one of them adds up everyone's last readings).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from benefitgate.clock import Clock
from benefitgate.db import MeteredPool
from benefitgate.events.hub import Hub
from benefitgate.telemetry import metrics
from benefitgate.webhooks import repository as webhooks

__all__ = ["Gauges"]

log = logging.getLogger(__name__)

_DATABASE_TIMEOUT = 2.0  # a scrape must not wait for a busy pool


class Gauges:
    def __init__(self, pool: MeteredPool, hub: Hub, clock: Clock, max_size: int) -> None:
        self._pool = pool
        self._hub = hub
        self._clock = clock
        self._max_size = max_size

    def read_process(self) -> None:
        """What this process holds, from memory."""
        size, idle = self._pool.get_size(), self._pool.get_idle_size()
        metrics.DB_POOL_CONNECTIONS.labels("in_use").set(size - idle)
        metrics.DB_POOL_CONNECTIONS.labels("idle").set(idle)
        metrics.DB_POOL_MAX_CONNECTIONS.set(self._max_size)
        metrics.DB_POOL_WAITING.set(self._pool.waiting)
        depths = self._hub.depths()
        metrics.LIVE_SUBSCRIBERS.set(len(depths))
        metrics.LIVE_QUEUED_EVENTS.set(sum(depths))
        metrics.LIVE_QUEUE_MAX_DEPTH.set(max(depths, default=0))

    async def read_database(self) -> None:
        """The webhook backlog; left as last read when the database does not answer."""
        try:
            async with self._pool.acquire(timeout=_DATABASE_TIMEOUT) as conn:
                behind, oldest = await webhooks.backlog(conn, self._clock.now())
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("webhook backlog not read", exc_info=True)
            return
        metrics.WEBHOOK_ENDPOINTS_BEHIND.set(behind)
        metrics.WEBHOOK_OLDEST_PENDING_SECONDS.set(oldest)

    async def read(self) -> None:
        self.read_process()
        await self.read_database()

    async def run(self, seconds: float) -> None:
        """Read every `seconds` until cancelled."""
        while True:
            try:
                await self.read()
            except Exception:  # a bug here must not end the readings for good
                log.exception("gauges not read")
            await asyncio.sleep(seconds)
