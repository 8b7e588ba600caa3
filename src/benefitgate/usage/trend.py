"""Projecting a metric to the end of its period from the trend so far.

Cumulative metrics (`sum`, `count`) project at their run rate: what was used, per second
of the period elapsed, carried to the period's end. A period's first day counts as a full
day, so that an early burst does not project as a flood. Gauges (`max`, `latest`) and
metrics that never reset have no projection: a run rate says nothing about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from benefitgate.usage.periods import Period

__all__ = ["MIN_ELAPSED", "Projection", "project", "reaches_limit"]

MIN_ELAPSED = timedelta(days=1)
CUMULATIVE = frozenset({"sum", "count"})


@dataclass(frozen=True, slots=True)
class Projection:
    value: float  # at the end of the period
    limit_reached_at: datetime | None  # within the period, when not reached yet


def project(
    aggregation: str, used: float, limit: float | None, period: Period, now: datetime
) -> Projection | None:
    if aggregation not in CUMULATIVE or period.end is None:
        return None
    elapsed = max(now - period.start, MIN_ELAPSED).total_seconds()
    left = max((period.end - now).total_seconds(), 0.0)
    rate = used / elapsed
    reached_at = None
    if limit is not None and used < limit and rate > 0:
        # Compared before it becomes a date: a slow rate is centuries away, past datetime.
        to_limit = (limit - used) / rate
        reached_at = now + timedelta(seconds=to_limit) if to_limit < left else None
    return Projection(round(used + rate * left, 2), reached_at)


def reaches_limit(used: float, limit: float, period: Period, now: datetime) -> bool:
    """Whether a cumulative metric's run rate reaches `limit` before its period ends: what
    `project(...).limit_reached_at` tells, without building the projection (ingest asks it
    of every counter a batch changes)."""
    if period.end is None or not 0 < used < limit:
        return False
    elapsed = max(now - period.start, MIN_ELAPSED).total_seconds()
    left = max((period.end - now).total_seconds(), 0.0)
    rate = used / elapsed  # as `project` computes it, which a tiny `used` rounds to 0
    return rate > 0 and (limit - used) / rate < left
