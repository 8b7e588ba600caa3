"""Pure metering rules: the accepted window, which aggregations allow negative values, and
the thresholds of a limit that are reported."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["THRESHOLDS", "WINDOW_AHEAD", "WINDOW_BACK", "in_window", "negative_allowed"]

# The percentages of a limit whose crossing is reported, once per account, metric and period.
THRESHOLDS = (80, 100)

WINDOW_BACK = timedelta(days=35)
WINDOW_AHEAD = timedelta(minutes=5)


def in_window(occurred_at: datetime, now: datetime) -> bool:
    return now - WINDOW_BACK <= occurred_at <= now + WINDOW_AHEAD


def negative_allowed(aggregation: str) -> bool:
    """Only `latest` is a gauge that may go below zero; sums, counts and maxima may not."""
    return aggregation == "latest"
