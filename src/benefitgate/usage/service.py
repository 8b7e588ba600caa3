"""Usage use cases for other domains."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from benefitgate.usage import repository
from benefitgate.usage.periods import EPOCH, Period, calendar_month, current_period
from benefitgate.usage.repository import CounterKey

__all__ = ["EPOCH", "CounterKey", "Period", "calendar_month", "counter_values", "current_period"]


async def counter_values(
    conn: asyncpg.Connection, keys: Sequence[CounterKey]
) -> dict[CounterKey, float]:
    return await repository.counter_values(conn, keys)
