"""Which period a metric's counter covers at a given time.

`billing_period` follows the subscription's current period, `calendar_month` the UTC month,
and `never` has a single period starting at the epoch with no end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["EPOCH", "Period", "calendar_month", "current_period"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime | None


def calendar_month(now: datetime) -> Period:
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def current_period(reset: str, billing: Period | None, now: datetime) -> Period:
    """The period of a metric with the given reset; an account without a subscription
    counts billing-period metrics per calendar month."""
    if reset == "never":
        return Period(EPOCH, None)
    if reset == "billing_period" and billing is not None:
        return billing
    return calendar_month(now)
