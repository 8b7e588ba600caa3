"""Which milestones a reading meets, the occurrence it counts for, and progress toward
the next one. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from uuid import UUID

from benefitgate.milestones.models import Milestone, Progress
from benefitgate.usage.periods import Period, add_months
from benefitgate.usage.trend import project

__all__ = [
    "ONCE",
    "Hit",
    "anniversary",
    "anniversary_progress",
    "occurrence",
    "threshold_hits",
    "usage_progress",
]

ONCE = "once"

# (account, milestone, occurrence, value): one candidate achievement.
Hit = tuple[UUID, str, str, float | None]


def occurrence(milestone: Milestone, period: datetime | date) -> str:
    """A repeatable milestone counts once per period (or target window); the rest once."""
    return period.isoformat() if milestone.repeatable else ONCE


def threshold_hits(
    milestones: Sequence[Milestone], counters: Iterable[tuple[UUID, str, datetime, float]]
) -> list[Hit]:
    """The usage-threshold milestones that updated counters (account, metric, period
    start, value) now meet."""
    by_metric: dict[str, list[Milestone]] = {}
    for m in milestones:
        if m.kind == "usage_threshold" and m.metric_key is not None:
            by_metric.setdefault(m.metric_key, []).append(m)
    return [
        (account_id, m.key, occurrence(m, start), value)
        for account_id, metric, start, value in counters
        for m in by_metric.get(metric, ())
        if m.threshold is not None and value >= m.threshold
    ]


def anniversary(started_at: datetime, years: int) -> datetime:
    return add_months(started_at, 12 * years)


def usage_progress(
    milestone: Milestone, aggregation: str, used: float, period: Period, now: datetime
) -> Progress:
    """Progress toward a usage threshold in the current period; the expected date is when
    the run rate so far reaches it, if that falls within the period."""
    assert milestone.threshold is not None
    projection = project(aggregation, used, milestone.threshold, period, now)
    expected = None if projection is None else projection.limit_reached_at
    return Progress(milestone, used, milestone.threshold, expected)


def anniversary_progress(milestone: Milestone, started_at: datetime, now: datetime) -> Progress:
    """Years since the subscription started, toward the milestone's anniversary."""
    assert milestone.periods is not None
    due = anniversary(started_at, milestone.periods)
    years = (now - started_at).total_seconds() / (365.25 * 86400)
    return Progress(milestone, round(min(years, milestone.periods), 2), milestone.periods, due)
