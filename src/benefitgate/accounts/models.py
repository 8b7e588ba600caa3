"""Accounts, subscriptions and the benefit view; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from benefitgate.catalog.models import Benefit, Catalog, Metric, TierVersion
from benefitgate.entitlements.models import Entitlement
from benefitgate.usage.periods import Period, period_at
from benefitgate.usage.trend import Projection

__all__ = [
    "Account",
    "AccountView",
    "LimitRaise",
    "MetricUsage",
    "NextTier",
    "Subscription",
]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    tier_version_id: int
    term: str
    seats: int
    status: str
    current_period_start: datetime
    current_period_end: datetime
    renewal_date: date
    scheduled_tier_version_id: int | None
    scheduled_change_at: datetime | None
    started_at: datetime
    version: int
    scheduled_term: str | None
    trial_ends_at: datetime | None
    trial_fallback_tier_version_id: int | None  # the tier version a trial falls back to
    trial_converts: bool  # whether the trial keeps its tier at its end

    @property
    def period(self) -> Period:
        return Period(self.current_period_start, self.current_period_end)


@dataclass(frozen=True, slots=True)
class Account:
    id: UUID
    name: str
    created_at: datetime
    partner_ids: tuple[UUID, ...]
    subscription: Subscription | None

    def period_at(self, reset: str, at: datetime) -> Period:
        """The period of a metric with `reset` that contains `at`, which may be an earlier
        billing period than the subscription's current one."""
        sub = self.subscription
        if sub is None:
            return period_at(reset, None, None, at)
        return period_at(reset, sub.period, sub.term, at)


@dataclass(frozen=True, slots=True)
class MetricUsage:
    metric: Metric
    period_start: datetime
    period_end: datetime | None
    used: float
    enforcement: str
    limit: float | None  # None when unlimited
    projection: Projection | None

    @property
    def unlimited(self) -> bool:
        return self.limit is None

    @property
    def remaining(self) -> float | None:
        return None if self.limit is None else max(self.limit - self.used, 0.0)

    @property
    def percent(self) -> float | None:
        """Share of the limit used, in percent; above 100 for a soft limit overrun."""
        if self.limit is None:
            return None
        if self.limit == 0:
            return 0.0 if self.used == 0 else 100.0
        return round(self.used / self.limit * 100, 2)


@dataclass(frozen=True, slots=True)
class LimitRaise:
    metric: Metric
    current: float | None  # None: unlimited
    next: float | None


@dataclass(frozen=True, slots=True)
class NextTier:
    tier: TierVersion
    added_benefits: tuple[Benefit, ...]
    raised_limits: tuple[LimitRaise, ...]
    monthly_price_delta_cents: int
    annual_price_delta_cents: int


@dataclass(frozen=True, slots=True)
class AccountView:
    catalog: Catalog  # the snapshot the view was resolved against
    account: Account
    tier: TierVersion | None
    entitlements: tuple[Entitlement, ...]
    usage: tuple[MetricUsage, ...]
    next_tier: NextTier | None
