"""A read replica for queries (`BENEFITGATE_READ_DATABASE_URL`): a streaming standby of the
primary, used by a query only when it has replayed every change this process has heard of.

"Heard of" is the primary's WAL position that the outbox listener reads with each look, so
a change whose event this process has handled (its caches invalidated, its live
subscribers told) is never read back older from the standby, and the response cache never
fills from a standby behind an invalidation. Between a write this process made, or a
usage touch it heard, and the listener's next look, queries read the primary. Whenever the
standby is behind, down or slow to hand out a connection, the query reads the primary too:
the replica only ever takes load, never correctness.
"""

from __future__ import annotations

import logging

import asyncpg

from benefitgate.telemetry import metrics

__all__ = ["ReadReplica"]

log = logging.getLogger(__name__)

# A standby's position is what it has replayed; anything else (the primary itself, named
# by mistake) is as current as it gets.
_FRESH = """
    select case when pg_is_in_recovery() then pg_last_wal_replay_lsn()
                else pg_current_wal_lsn() end >= $1::pg_lsn
"""
_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class ReadReplica:
    def __init__(self, pool: asyncpg.Pool, acquire_seconds: float = 0.05) -> None:
        self.pool = pool
        self._acquire_seconds = acquire_seconds
        self._heard = 0  # the primary's WAL position at the listener's last look
        self._changes = 0  # changes expected so far
        self._pending = False  # a change may have committed after the last look

    def look_started(self) -> int:
        """The listener is about to look; what it looks past is given back to `heard`."""
        return self._changes

    def heard(self, wal_position: int, since: int) -> None:
        """The listener looked (starting when `look_started` gave `since`): every change
        it knows of is at or below `wal_position`. A change expected during the look
        may have committed after it, so it stays pending until the next look."""
        self._heard = max(self._heard, wal_position)
        if since == self._changes:
            self._pending = False

    def expect_change(self) -> None:
        """A change committed that the listener has not looked past yet (this process's
        own write, or a touch it was told of): the primary until its next look."""
        self._changes += 1
        self._pending = True

    async def acquire(self) -> asyncpg.Connection | None:
        """A standby connection that has replayed what this process has heard of, or None
        (then the caller reads the primary)."""
        if self._pending:
            metrics.REPLICA_READS.labels("pending").inc()
            return None
        wanted = self._heard
        try:
            conn: asyncpg.Connection = await self.pool.acquire(timeout=self._acquire_seconds)
        except _ERRORS as exc:
            log.warning("read replica unavailable: %r", exc)
            metrics.REPLICA_READS.labels("unavailable").inc()
            return None
        try:
            fresh = await conn.fetchval(_FRESH, wanted)
        except _ERRORS as exc:
            log.warning("read replica unavailable: %r", exc)
            fresh = None
        if fresh is not True:
            await self.release(conn)
            metrics.REPLICA_READS.labels("behind" if fresh is False else "unavailable").inc()
            return None
        metrics.REPLICA_READS.labels("replica").inc()
        return conn

    async def release(self, conn: asyncpg.Connection) -> None:
        try:
            await self.pool.release(conn)
        except _ERRORS:  # a lost standby connection: let it go
            conn.terminate()
