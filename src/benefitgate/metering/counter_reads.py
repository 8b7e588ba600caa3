"""The counters metric checks read, gathered: the checks waiting at one moment share one
statement on one pooled connection.

A metric check reads its one counter. Read one by one, every check costs a pool checkout
and a round trip of its own, and at a few thousand checks a second they queue for the
pool's connections. Here a check's read joins the batch being gathered; the batch is read
as soon as the event loop is free, in one statement, while the next batch gathers behind
it. A read is never older than the check: its statement starts after the check asked, so
it sees every change committed before (a write's caller reads what it wrote).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.metering import repository
from benefitgate.metering.repository import CounterKey

__all__ = ["CounterReads"]

log = logging.getLogger(__name__)


class CounterReads:
    """The process's counter reads for checks, at most one statement in flight, on a
    connection of their own, checked out of `pool` (a pool of one) and kept between
    batches: a check waiting here may hold its request's connection of the main pool, and
    with all of those so held a read from the same pool would never start."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._conn: asyncpg.Connection | None = None
        self._waiting: dict[CounterKey, list[asyncio.Future[float]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        """Stop reading, give the connection back and close the pool (the process is
        stopping: its requests have ended)."""
        reader = self._reader
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await self._give_back()
        await self.pool.close()

    async def value(self, account_id: UUID, metric: str, period_start: datetime) -> float:
        """The counter's value as committed when the check asked (0 if it has none)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((account_id, metric, period_start), []).append(future)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_while_waiting())
        return await future

    async def _read_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                await self._read(batch)
        finally:
            self._reader = None

    async def _read(self, batch: dict[CounterKey, list[asyncio.Future[float]]]) -> None:
        try:
            if self._conn is None:
                self._conn = await self.pool.acquire()
            values = await repository.counter_values(self._conn, list(batch))
        except asyncio.CancelledError:  # the process is stopping
            for futures in batch.values():
                for future in futures:
                    future.cancel()
            raise
        except Exception as exc:  # each waiting check fails as its own read would have
            for futures in batch.values():
                _settle(futures, exc)
            await self._give_back()  # the pool replaces it if it died
            return
        for futures, value in zip(batch.values(), values, strict=True):
            _settle(futures, value)

    async def _give_back(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await self.pool.release(conn)
        except Exception:  # a reader that stopped here would leave later checks waiting
            log.warning("the counter reads' connection was not given back", exc_info=True)
            conn.terminate()


def _settle(futures: list[asyncio.Future[float]], outcome: float | Exception) -> None:
    for future in futures:
        if future.done():  # its check was cancelled (the client went away)
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
