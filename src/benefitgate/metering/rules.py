"""Pure metering rules: the accepted window, which aggregations allow negative values, and
what one write adds to a counter or daily bucket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

__all__ = [
    "WINDOW_AHEAD",
    "WINDOW_BACK",
    "CounterDelta",
    "in_window",
    "negative_allowed",
    "utc_midnight",
]

WINDOW_BACK = timedelta(days=35)
WINDOW_AHEAD = timedelta(minutes=5)


def in_window(occurred_at: datetime, now: datetime) -> bool:
    return now - WINDOW_BACK <= occurred_at <= now + WINDOW_AHEAD


def utc_midnight(at: datetime) -> datetime:
    """The start of `at`'s UTC day: the key of its daily bucket."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def negative_allowed(aggregation: str) -> bool:
    """Only `latest` is a gauge that may go below zero; sums, counts and maxima may not."""
    return aggregation == "latest"


@dataclass(slots=True)
class CounterDelta:
    """What a batch adds to one counter (or daily bucket), in its aggregation's terms."""

    account_id: UUID
    metric_key: str
    aggregation: str
    bucket: datetime  # period start, or the day at midnight UTC
    bucket_end: datetime | None
    value: float
    last_event_at: datetime
