"""The outbox's retention: pruning old events, and the horizon that makes a too-old cursor
an explicit error instead of a silent skip.

The horizon is the cursor of the newest event ever pruned (`START` while nothing was). A
reader that resumes from a cursor below it may have missed events, so it gets
`CursorExpired`. Pruning deletes and moves the horizon in one transaction; a reader checks
the horizon after it reads, so either it read before the prune committed (and saw every
row) or it sees the new horizon.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import asyncpg

from benefitgate.clock import Clock
from benefitgate.events import readable
from benefitgate.events.outbox import Cursor

__all__ = ["CursorExpired", "check_cursor", "horizon", "prune", "run_hourly"]

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600.0


class CursorExpired(Exception):
    """Events after the cursor were pruned; resuming from it would skip them."""

    def __init__(self, cursor: Cursor, horizon: Cursor) -> None:
        super().__init__(f"cursor {cursor.encode()} is older than the retention horizon")
        self.cursor = cursor
        self.horizon = horizon


async def horizon(conn: asyncpg.Connection) -> Cursor:
    row = await conn.fetchrow("select txid, id from event_horizon")
    return Cursor(row["txid"], row["id"])


async def check_cursor(conn: asyncpg.Connection, cursor: Cursor) -> None:
    """Raise CursorExpired when events after `cursor` may have been pruned.

    Call it after reading from `cursor`, so a prune that committed during the read is seen.
    """
    oldest = await horizon(conn)
    if cursor < oldest:
        raise CursorExpired(cursor, oldest)


async def prune(conn: asyncpg.Connection, before: datetime) -> int:
    """Delete the events a reader may see that were created before `before`, and every event
    with a lower cursor; move the horizon to the newest one deleted. Idempotent, and safe on
    several replicas at once (the horizon row is locked). Returns the number deleted."""
    async with conn.transaction():
        await conn.execute("select 1 from event_horizon for update")
        probe = await readable.take(conn)
        newest = await conn.fetchrow(
            f"""
            with {readable.horizon_cte("$2", "$3")}
            select e.txid, e.id from events e, horizon h
            where e.created_at < $1 and e.txid < h.xmin
            order by e.txid desc, e.id desc limit 1
            """,  # noqa: S608 (fixed SQL, no input)
            before,
            probe.next_xid,
            list(probe.running),
        )
        if newest is None:
            return 0
        deleted: str = await conn.execute(
            "delete from events where (txid, id) <= ($1::xid8, $2)",
            newest["txid"],
            newest["id"],
        )
        await conn.execute(
            """update event_horizon set txid = $1::xid8, id = $2
               where (txid, id) < ($1::xid8, $2)""",
            newest["txid"],
            newest["id"],
        )
    return int(deleted.split()[-1])


async def run_hourly(pool: asyncpg.Pool, clock: Clock, keep: timedelta) -> None:
    """Prune events older than `keep` every hour until cancelled; a failed round is logged
    and retried at the next one."""
    while True:
        try:
            async with pool.acquire() as conn:
                deleted = await prune(conn, clock.now() - keep)
            if deleted:
                log.info("pruned events", extra={"events": deleted})
        except Exception:  # any failure (a connection ended under the pool raises
            # asyncpg's InterfaceError): escaping, it would end pruning for good
            log.exception("event pruning failed")
        await asyncio.sleep(INTERVAL_SECONDS)
