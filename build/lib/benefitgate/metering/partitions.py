"""Monthly partitions of the raw usage events: created ahead, and on demand."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import asyncpg

from benefitgate.metering import repository
from benefitgate.usage.periods import add_months

__all__ = ["Partitions"]


class Partitions:
    """Remembers which months this process knows to exist, so that the ingest path
    touches the catalog of tables only for a month it has not seen yet."""

    def __init__(self) -> None:
        self._known: set[date] = set()

    async def ensure(self, conn: asyncpg.Connection, months: Iterable[date]) -> None:
        """Create missing partitions; call outside a transaction that writes events."""
        missing = sorted(set(months) - self._known)
        if missing:
            await repository.ensure_partitions(conn, missing)
            self._known.update(missing)

    async def ensure_around(self, conn: asyncpg.Connection, now: datetime) -> None:
        """The accepted window's months and the next one, ahead of time."""
        first = add_months(now, -2)
        months = [add_months(first, i) for i in range(5)]
        await self.ensure(conn, [date(m.year, m.month, 1) for m in months])
