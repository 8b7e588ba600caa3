"""Pure metering rules: the accepted window, which aggregations allow negative values, and
how a batch folds into counter updates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

__all__ = [
    "WINDOW_AHEAD",
    "WINDOW_BACK",
    "CounterDelta",
    "fold",
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


def fold(
    rows: Iterable[tuple[UUID, str, datetime, datetime | None, float, datetime]],
    aggregation: dict[str, str],
) -> list[CounterDelta]:
    """Fold (account, metric, bucket, bucket end, value, occurred at) rows into one delta per
    bucket, sorted by key so that concurrent batches lock counters in the same order."""
    deltas: dict[tuple[UUID, str, datetime], CounterDelta] = {}
    for account_id, metric, bucket, bucket_end, value, at in rows:
        kind = aggregation[metric]
        if kind == "count":
            value = 1.0
        delta = deltas.get((account_id, metric, bucket))
        if delta is None:
            deltas[account_id, metric, bucket] = CounterDelta(
                account_id, metric, kind, bucket, bucket_end, value, at
            )
            continue
        if kind == "max":
            delta.value = max(delta.value, value)
        elif kind == "latest":
            if at >= delta.last_event_at:
                delta.value = value
        else:
            delta.value += value
        delta.last_event_at = max(delta.last_event_at, at)
    return [deltas[k] for k in sorted(deltas, key=lambda k: (str(k[0]), k[1], k[2]))]
