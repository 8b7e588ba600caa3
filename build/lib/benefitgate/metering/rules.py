"""Pure metering rules: the accepted window, and which aggregations allow negative values."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["WINDOW_AHEAD", "WINDOW_BACK", "in_window", "negative_allowed"]

WINDOW_BACK = timedelta(days=35)
WINDOW_AHEAD = timedelta(minutes=5)


def in_window(occurred_at: datetime, now: datetime) -> bool:
    return now - WINDOW_BACK <= occurred_at <= now + WINDOW_AHEAD


def negative_allowed(aggregation: str) -> bool:
    """Only `latest` is a gauge that may go below zero; sums, counts and maxima may not."""
    return aggregation == "latest"
