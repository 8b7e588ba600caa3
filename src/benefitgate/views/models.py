"""Parts of the account benefit view: usage against limits, the next tier; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Benefit, Metric, TierVersion
from benefitgate.common.quantities import percent_of
from benefitgate.entitlements.models import Grant
from benefitgate.usage.trend import Projection

__all__ = ["AccountParts", "LimitRaise", "MetricUsage", "NextTier"]


@dataclass(frozen=True, slots=True)
class AccountParts:
    """An account read with the parts of its view a document selects, in one statement:
    its current grants, and (for usage) its counters by (account, metric, period start)."""

    account: Account
    grants: list[Grant]
    counters: dict[tuple[UUID, str, datetime], float] | None


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
        """Share of the limit used, in percent; above 100 for a soft limit overrun, at most
        `common.quantities.MAX_PERCENT`."""
        if self.limit is None:
            return None
        if self.limit == 0:
            return 0.0 if self.used == 0 else 100.0
        return percent_of(self.used, self.limit)


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
