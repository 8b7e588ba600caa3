"""The impact summary of an account over a range of days; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from benefitgate.catalog.models import Benefit, Metric, Outcome, TierVersion
from benefitgate.entitlements.models import Grant

__all__ = [
    "Achieved",
    "CounterRow",
    "DayRange",
    "GrantUse",
    "ImpactSummary",
    "MetricImpact",
    "MonthRow",
    "OutcomeImpact",
    "TargetRow",
]


@dataclass(frozen=True, slots=True)
class DayRange:
    start: date
    end: date  # inclusive
    # A term's exact start (its billing period's), which need not be a midnight: what is
    # read by instant (counters, grants, milestones) counts from it, not from `start`.
    since: datetime | None = None

    def instants(self) -> tuple[datetime, datetime]:
        """From `since` (else the first midnight, UTC) to the midnight after the last day."""
        first = self.since or datetime.combine(self.start, time(), UTC)
        return first, datetime.combine(self.end + timedelta(days=1), time(), UTC)


@dataclass(frozen=True, slots=True)
class MonthRow:
    """A metric's daily buckets of one month within the range, folded."""

    metric_key: str
    month: date
    total: float
    peak: float
    last: float


@dataclass(frozen=True, slots=True)
class CounterRow:
    metric_key: str
    period_start: datetime
    period_end: datetime | None
    value: float


@dataclass(frozen=True, slots=True)
class TargetRow:
    outcome_key: str
    target: float
    starts_on: date
    ends_on: date
    actual: float | None  # over the target's days within the range


@dataclass(frozen=True, slots=True)
class Achieved:
    milestone_key: str
    name: str
    occurrence: str
    achieved_at: datetime
    reward_benefit_key: str | None
    reward_amount: float | None


@dataclass(frozen=True, slots=True)
class MetricImpact:
    metric: Metric
    months: tuple[MonthRow, ...]
    periods: tuple[CounterRow, ...]  # its counters in the range: usage per period
    value: float  # over the range: the total, or the peak of a gauge
    limit: float | None  # in force now; None when unlimited or not limited
    peak_percent: float | None  # the fullest period against the limit
    trend_percent: float | None  # second half of the months against the first


@dataclass(frozen=True, slots=True)
class GrantUse:
    grant: Grant
    used: float | None  # a limit raise used, or credits spent; None when not measured


@dataclass(frozen=True, slots=True)
class OutcomeImpact:
    outcome: Outcome
    delivered: float | None  # over the range, from the metric that measures it
    target: TargetRow | None
    percent: float | None  # of the target
    met: bool
    value_cents: int | None  # delivered times the value per unit


@dataclass(frozen=True, slots=True)
class ImpactSummary:
    account_id: object
    range: DayRange
    metrics: tuple[MetricImpact, ...]
    achieved: tuple[Achieved, ...]
    benefits_used: tuple[GrantUse, ...]
    outcomes: tuple[OutcomeImpact, ...]
    value_cents: int | None
    currency: str | None
    new_since: date  # the last renewal
    new_benefits: tuple[Benefit, ...]
    new_versions: tuple[TierVersion, ...]
