"""Usage time series for dashboards: daily buckets rolled up by day, ISO week or month.

A point covers the days of its bucket inside the asked range (the first and last may be
partial). Its value follows the metric's aggregation: the total for `sum` and `count`
(zero without usage), the peak for `max`, the last reading for `latest` (null without
one).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

__all__ = ["MAX_POINTS", "Bucket", "InvalidRange", "SeriesPoint", "point_count"]

MAX_POINTS = 1000


class Bucket(enum.Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    first_day: date
    last_day: date
    value: float | None


class InvalidRange(ValueError):
    """The range is reversed or holds more than MAX_POINTS buckets."""


def point_count(first: date, last: date, bucket: Bucket) -> int:
    """How many buckets the inclusive range [first, last] touches."""
    if bucket is Bucket.DAY:
        return (last - first).days + 1
    if bucket is Bucket.WEEK:
        return (last.toordinal() - last.weekday() - first.toordinal() + first.weekday()) // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1
