"""Pure metering rules: the accepted window and how long what it needs is kept, which
aggregations allow negative values, and the thresholds of a limit that are reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["THRESHOLDS", "Window", "negative_allowed"]

# The percentages of a limit whose crossing is reported, once per account, metric and period.
THRESHOLDS = (80, 100)

BACKFILL_DAYS = 35


@dataclass(frozen=True, slots=True)
class Window:
    """When an event may have occurred, relative to its receipt: up to `back` before
    (the backfill window, BENEFITGATE_BACKFILL_DAYS) and `ahead` after. `retention`: how
    long raw events are kept (None: for ever), BENEFITGATE_USAGE_RETENTION_DAYS.

    Raises ValueError for a negative window, or a retention shorter than the dedup horizon:
    raw events an event could still be backdated among would be dropped."""

    back: timedelta = timedelta(days=BACKFILL_DAYS)
    ahead: timedelta = timedelta(minutes=5)
    retention: timedelta | None = None

    def __post_init__(self) -> None:
        if self.back < timedelta(0) or self.ahead < timedelta(0):
            raise ValueError("the backfill window cannot be negative")
        if self.retention is not None and self.retention < self.horizon:
            raise ValueError(
                f"usage retention ({self.retention.days} days) must cover the backfill "
                f"window and a day ({self.horizon.days} days at least)"
            )

    @classmethod
    def of_days(cls, backfill: int, retention: int) -> Window:
        """From the settings: whole days back, and days of retention (0: for ever)."""
        kept = timedelta(days=retention) if retention > 0 else None
        return cls(timedelta(days=backfill), retention=kept)

    def contains(self, occurred_at: datetime, now: datetime) -> bool:
        return now - self.back <= occurred_at <= now + self.ahead

    @property
    def horizon(self) -> timedelta:
        """How long an event id stays deduplicated after its receipt: as long as any event
        received later could still carry it (the whole window), plus a day."""
        return self.back + self.ahead + timedelta(days=1)


def negative_allowed(aggregation: str) -> bool:
    """Only `latest` is a gauge that may go below zero; sums, counts and maxima may not."""
    return aggregation == "latest"
