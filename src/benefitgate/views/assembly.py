"""Pure assembly of the account benefit view from loaded parts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog, Metric, TierVersion
from benefitgate.entitlements.models import EffectiveLimit
from benefitgate.usage.service import CounterKey, Period, current_period
from benefitgate.usage.trend import project
from benefitgate.views.models import LimitRaise, MetricUsage, NextTier

__all__ = ["metric_periods", "next_tier", "usage_rows"]


def metric_periods(
    account: Account, limits: Mapping[str, EffectiveLimit], catalog: Catalog, now: datetime
) -> dict[str, Period]:
    """The current period of every limited metric of the account."""
    sub = account.subscription
    billing = None if sub is None else sub.period
    return {
        key: current_period(catalog.metrics[key].reset, billing, now)
        for key in limits
        if key in catalog.metrics
    }


def usage_rows(
    account: Account,
    limits: Mapping[str, EffectiveLimit],
    periods: Mapping[str, Period],
    counters: Mapping[CounterKey, float],
    catalog: Catalog,
    now: datetime,
) -> tuple[MetricUsage, ...]:
    return tuple(
        _metric_usage(
            catalog.metrics[key],
            period,
            counters.get((account.id, key, period.start), 0.0),
            limits[key],
            now,
        )
        for key, period in periods.items()
    )


def _metric_usage(
    metric: Metric, period: Period, used: float, limit: EffectiveLimit, now: datetime
) -> MetricUsage:
    return MetricUsage(
        metric=metric,
        period_start=period.start,
        period_end=period.end,
        used=used,
        enforcement=limit.enforcement,
        limit=limit.included,
        projection=project(metric.aggregation, used, limit.included, period, now),
    )


def next_tier(tier: TierVersion | None, catalog: Catalog, now: datetime) -> NextTier | None:
    """The next rung up the ladder and what it would add over the account's tier."""
    upper = catalog.next_above(tier.rank if tier else -1, now)
    if upper is None:
        return None
    have = tier.benefit_keys if tier else frozenset()
    added = tuple(
        catalog.benefits[key]
        for key in sorted(upper.benefit_keys - have)
        if key in catalog.benefits
    )
    raised = []
    for limit in upper.limits:
        current = tier.limit_for(limit.metric_key) if tier else None
        now_amount = current.included if current else 0.0
        if _is_raise(now_amount, limit.included) and limit.metric_key in catalog.metrics:
            raised.append(LimitRaise(catalog.metrics[limit.metric_key], now_amount, limit.included))
    return NextTier(
        tier=upper,
        added_benefits=added,
        raised_limits=tuple(raised),
        monthly_price_delta_cents=upper.monthly_price_cents
        - (tier.monthly_price_cents if tier else 0),
        annual_price_delta_cents=upper.annual_price_cents
        - (tier.annual_price_cents if tier else 0),
    )


def _is_raise(current: float | None, upper: float | None) -> bool:
    if current is None:  # already unlimited
        return False
    return upper is None or upper > current
