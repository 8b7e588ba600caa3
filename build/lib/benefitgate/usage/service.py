"""Usage use cases for other domains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import asyncpg

from benefitgate.catalog.models import Metric
from benefitgate.usage import repository
from benefitgate.usage.periods import EPOCH, Period, calendar_month, current_period
from benefitgate.usage.repository import CounterKey
from benefitgate.usage.series import MAX_POINTS, Bucket, InvalidRange, SeriesPoint, point_count

__all__ = [
    "EPOCH",
    "CounterKey",
    "Period",
    "calendar_month",
    "counter_values",
    "current_period",
    "usage_series",
]


async def counter_values(
    conn: asyncpg.Connection, keys: Sequence[CounterKey]
) -> dict[CounterKey, float]:
    return await repository.counter_values(conn, keys)


async def usage_series(
    conn: asyncpg.Connection,
    account_id: UUID,
    metric: Metric,
    first: date,
    last: date,
    bucket: Bucket,
) -> list[SeriesPoint]:
    """The metric's usage per bucket over the inclusive range [first, last].
    Raises InvalidRange when `last` is before `first` or the range needs over MAX_POINTS."""
    if last < first:
        raise InvalidRange("`to` is before `from`")
    if point_count(first, last, bucket) > MAX_POINTS:
        raise InvalidRange(f"at most {MAX_POINTS} points; use a larger bucket or a shorter range")
    return await repository.series(conn, account_id, metric, first, last, bucket)
