"""Parts of the account benefit view: usage against limits, the next tier; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Benefit, Metric, TierVersion
from benefitgate.common.quantities import limit_percent, limit_remaining
from benefitgate.entitlements.models import Grant
from benefitgate.usage.trend import Projection

__all__ = ["AccountParts", "LimitRaise", "MetricUsage", "NextTier"]


@dataclass(frozen=True, slots=True)
class AccountParts:
    """An account read with the parts of its view a document selects, in one statement:
    its current grants (None: not read), and (for usage) its counters by (account, metric,
    period start)."""

    account: Account
    grants: list[Grant] | None
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
        """Between 0 and the limit (`common.quantities.limit_remaining`)."""
        return limit_remaining(self.used, self.limit)

    @property
    def percent(self) -> float | None:
        """Share of the limit used, in percent; above 100 for an overrun, at most
        `common.quantities.MAX_PERCENT` (`common.quantities.limit_percent`)."""
        return limit_percent(self.used, self.limit)


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
