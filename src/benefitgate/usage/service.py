"""Usage use cases for other domains."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import asyncpg
import orjson

from benefitgate.catalog.models import Metric
from benefitgate.usage import repository
from benefitgate.usage.periods import EPOCH, Period, calendar_month, current_period
from benefitgate.usage.repository import CounterKey
from benefitgate.usage.series import MAX_POINTS, Bucket, InvalidRange, SeriesPoint, point_count
from benefitgate.usage.trend import CUMULATIVE

__all__ = [
    "EPOCH",
    "CounterKey",
    "GroupSeries",
    "Period",
    "calendar_month",
    "check_range",
    "counter_values",
    "current_period",
    "usage_series",
    "usage_series_by_group",
    "usage_series_many",
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
    return (await usage_series_many(conn, [(account_id, metric)], first, last, bucket))[0]


async def usage_series_many(
    conn: asyncpg.Connection,
    keys: Sequence[tuple[UUID, Metric]],
    first: date,
    last: date,
    bucket: Bucket,
) -> list[list[SeriesPoint]]:
    """`usage_series` of each (account, metric) of `keys`, in their order, in one
    statement. Raises InvalidRange as it does."""
    check_range(first, last, bucket)
    return await repository.series_many(conn, keys, first, last, bucket)


def check_range(first: date, last: date, bucket: Bucket) -> None:
    """Raises InvalidRange when `last` is before `first` or the range needs over
    MAX_POINTS buckets."""
    if last < first:
        raise InvalidRange("`to` is before `from`")
    if point_count(first, last, bucket) > MAX_POINTS:
        raise InvalidRange(f"at most {MAX_POINTS} points; use a larger bucket or a shorter range")


@dataclass(frozen=True, slots=True)
class GroupSeries:
    """One group's series: the values of the properties grouped by, and its points."""

    dimensions: dict[str, str | None]
    points: list[SeriesPoint]


async def usage_series_by_group(
    conn: asyncpg.Connection,
    account_id: UUID,
    metric: Metric,
    first: date,
    last: date,
    bucket: Bucket,
    group_by: Sequence[str],
) -> tuple[list[SeriesPoint], list[GroupSeries]]:
    """`usage_series`, and the same series for each group of `group_by` (some of the
    metric's `group_by`) with usage in the range, ordered by group; a group's bucket
    without usage is zero for sum and count, null for max and latest."""
    points = await usage_series(conn, account_id, metric, first, last, bucket)
    if not group_by:
        return points, []
    values: dict[str, dict[date, float | None]] = {}
    for first_day, group, value in await repository.group_series(
        conn, account_id, metric, first, last, bucket, group_by
    ):
        values.setdefault(group, {})[first_day] = value
    empty = 0.0 if metric.aggregation in CUMULATIVE else None
    return points, [
        GroupSeries(
            orjson.loads(group),
            [SeriesPoint(p.first_day, p.last_day, found.get(p.first_day, empty)) for p in points],
        )
        for group, found in sorted(values.items())
    ]
