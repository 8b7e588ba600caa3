"""Monthly partitions of the raw usage events: created ahead and on demand, dropped past
the retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import asyncpg

from benefitgate.metering import repository
from benefitgate.metering.rules import Window
from benefitgate.usage.periods import add_months

__all__ = ["Partitions"]


class Partitions:
    """Remembers which months this process knows to exist, so that the ingest path
    touches the catalog of tables only for a month it has not seen yet."""

    def __init__(self, window: Window | None = None) -> None:
        self.window = window or Window()
        self._known: set[date] = set()

    async def ensure(self, conn: asyncpg.Connection, months: Iterable[date]) -> None:
        """Create missing partitions; call outside a transaction that writes events."""
        missing = sorted(set(months) - self._known)
        if missing:
            await repository.ensure_partitions(conn, missing)
            self._known.update(missing)

    async def ensure_around(self, conn: asyncpg.Connection, now: datetime) -> None:
        """The accepted window's months and the next one, ahead of time."""
        first, last = _month(now - self.window.back), _month(add_months(now, 1))
        count = (last.year - first.year) * 12 + last.month - first.month + 1
        start = datetime(first.year, first.month, 1, tzinfo=UTC)
        await self.ensure(conn, [_month(add_months(start, i)) for i in range(count)])

    async def drop_expired(self, conn: asyncpg.Connection, now: datetime) -> list[str]:
        """Drop the months wholly older than the retention (none without one)."""
        if self.window.retention is None:
            return []
        dropped = await repository.drop_partitions(conn, now - self.window.retention)
        self._known = {m for m in self._known if f"usage_events_{m:%Y_%m}" not in dropped}
        return dropped


def _month(at: datetime) -> date:
    """The first day of the UTC month of `at`."""
    utc = at.astimezone(UTC)
    return date(utc.year, utc.month, 1)
