"""Time-driven jobs (renewals, trial ends), run by one replica at a time.

The replica that holds a Postgres advisory lock on its own connection runs every job at
each tick; the others wait, and one takes over within a tick when the holder's connection
goes. Jobs find their work from the rows ("what is due by now"), so a tick after downtime
catches up on everything missed, and a job must be exact on its own: the lock saves
duplicated work, it is not what prevents a duplicated effect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import asyncpg

from benefitgate import db
from benefitgate.clock import Clock
from benefitgate.telemetry import metrics

__all__ = ["LOCK_KEY", "Job", "Scheduler"]

log = logging.getLogger(__name__)

Job = Callable[[datetime], Awaitable[int]]

# pg_advisory_lock's key space is shared by everything on the database: a fixed, arbitrary
# number ('bgsched' in ASCII) that nothing else here uses.
LOCK_KEY = 0x62_67_73_63_68_65_64


class Scheduler:
    def __init__(self, dsn: str, clock: Clock, jobs: Mapping[str, Job], interval: float) -> None:
        self._dsn = dsn
        self._clock = clock
        self._jobs = jobs
        self._interval = interval
        self._conn: asyncpg.Connection | None = None
        self._leading = False

    async def tick(self) -> bool:
        """Run every job once if this replica leads; False when another one does. A
        failing job is logged and does not stop the others."""
        if not await self._lead():
            return False
        now = self._clock.now()
        for name, job in self._jobs.items():
            await self._run_job(name, job, now)
        return True

    async def _run_job(self, name: str, job: Job, now: datetime) -> None:
        started = time.perf_counter()
        try:
            done = await job(now)
        # Any failure, a bug included: left to escape, it would end the scheduler's task
        # and with it every job on this replica, while it keeps the lead.
        except Exception:
            log.exception("scheduled job failed", extra={"job": name})
            metrics.SCHEDULER_JOB_SECONDS.labels(name, "error").observe(
                time.perf_counter() - started
            )
            return
        metrics.SCHEDULER_JOB_SECONDS.labels(name, "ok").observe(time.perf_counter() - started)
        if done:
            metrics.SCHEDULER_JOB_ITEMS.labels(name).inc(done)
            log.info("scheduled job ran", extra={"job": name, "applied": done})

    async def run(self) -> None:
        """Tick every `interval` seconds until cancelled."""
        while True:
            try:
                await self.tick()
            except (OSError, asyncpg.PostgresError):
                log.exception("scheduler lost its connection; retrying")
                await self._drop()
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        """Close the lock's connection, so another replica leads at once."""
        await self._drop()

    async def _lead(self) -> bool:
        if self._conn is None or self._conn.is_closed():
            self._conn = await db.connect(self._dsn)
            self._leading = False
        if self._leading:
            # The lock lives as long as the session: a session that still answers holds it.
            await self._conn.execute("select 1")
            return True
        self._leading = bool(await self._conn.fetchval("select pg_try_advisory_lock($1)", LOCK_KEY))
        metrics.SCHEDULER_LEADER.set(1 if self._leading else 0)
        return self._leading

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._leading = False
        metrics.SCHEDULER_LEADER.set(0)
        if conn is not None and not conn.is_closed():
            await conn.close()
