"""Exact consumption against a limit, and entitlement checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog
from benefitgate.common import quantities
from benefitgate.common.changes import InvalidChange
from benefitgate.common.text import a_or_an, quoted
from benefitgate.entitlements.models import EffectiveLimit
from benefitgate.entitlements.snapshots import AccountSnapshot, Effective
from benefitgate.metering import repository
from benefitgate.metering.cascade import UsageCascade
from benefitgate.metering.models import (
    CheckReason,
    CheckResult,
    Consumed,
    QuotaDenied,
    Suspended,
)
from benefitgate.subscriptions import repository as subscriptions

__all__ = ["UsedOf", "check", "consume", "suspension"]

SUSPENDED_STATUSES = frozenset({"past_due", "canceled"})

# The value of a metric's counter in the period starting at the given instant.
UsedOf = Callable[[str, datetime], Awaitable[float]]


async def suspension(conn: asyncpg.Connection, account_id: UUID) -> Suspended | None:
    """Why the account may not consume now, if it may not (a subscription past due or
    canceled, or none), read in the caller's transaction with its subscription's row
    share-locked: a status change commits before the consumption or after it."""
    status = await subscriptions.status_for_share(conn, account_id)
    if status is None or status in SUSPENDED_STATUSES:
        return Suspended(account_id, status)
    return None


async def consume(
    conn: asyncpg.Connection,
    account: Account,
    metric_key: str,
    amount: float,
    catalog: Catalog,
    now: datetime,
) -> Consumed | QuotaDenied | Suspended:
    """Check and consume in the caller's transaction. A hard limit is never exceeded, under
    any concurrency: the add is one conditional upsert. A soft limit lets it past and says
    so. A metric the account has no limit for has a hard limit of zero. A suspended
    account (`suspension`, or `account`'s subscription as it stands now) consumes
    nothing."""
    metric = catalog.metrics.get(metric_key)
    if metric is None:
        raise InvalidChange("metric", f"unknown metric {quoted(metric_key)}")
    if metric.aggregation not in ("sum", "count"):
        raise InvalidChange("metric", f"{a_or_an(metric.aggregation)} metric cannot be consumed")
    if not (amount > 0 and quantities.is_usage(amount)):
        raise InvalidChange("amount", "give a positive amount of at most 10^15")
    if metric.counts_whole and not quantities.is_whole(amount):  # half an event
        raise InvalidChange("amount", quantities.WHOLE)
    suspended = await suspension(conn, account.id)
    if suspended is not None:
        return suspended
    sub = account.subscription  # as it stands now: a period may have ended, not yet written
    if sub is not None and sub.status in SUSPENDED_STATUSES:
        return Suspended(account.id, sub.status)
    cascade = await UsageCascade.prepare(conn, [account], catalog, now)
    limit = cascade.limits[account.id].get(metric_key)
    period = account.period_at(metric.reset, now)
    ceiling = _ceiling(limit)
    used = await repository.consume(
        conn, account.id, metric_key, (period.start, period.end), amount, ceiling, now
    )
    if used is None:
        assert ceiling is not None  # only a ceiling denies
        current = await repository.counter_value(conn, account.id, metric_key, period.start)
        return QuotaDenied(account.id, metric_key, amount, current, ceiling, period.end)
    counter = (account.id, metric_key, period.start)
    await cascade.after_counters(conn, [(*counter, used)], catalog, now, {counter: amount})
    included = None if limit is None else limit.included
    return Consumed(
        account_id=account.id,
        metric_key=metric_key,
        amount=amount,
        used=used,
        limit=0.0 if limit is None else included,
        overage=included is not None and used > included,
        period_end=period.end,
    )


def _ceiling(limit: EffectiveLimit | None) -> float | None:
    """What consumption must stay within: a hard limit, or zero for a metric the account has
    no limit for; None when the limit is soft or unlimited."""
    if limit is None:
        return 0.0
    return limit.included if limit.enforcement == "hard" else None


async def check(
    snapshot: AccountSnapshot,
    *,
    feature: str | None,
    metric: str | None,
    requested: float,
    catalog: Catalog,
    now: datetime,
    used: UsedOf,
) -> CheckResult:
    """Whether the account may use a feature, or `requested` more of a metric, now, from
    its entitlement snapshot; a metric's check reads its one counter through `used`.
    Raises InvalidChange for input no check can answer (nothing is then counted)."""
    if (feature is None) == (metric is None):
        raise InvalidChange("feature", "give exactly one of feature and metric")
    if not quantities.non_negative(requested):
        raise InvalidChange("requested", f"give an amount of {quantities.NON_NEGATIVE}")
    # Only names the catalog knows are checked, and so counted as denials: a denial is
    # kept under its name in a unique index, which a name of any length would break.
    if feature is not None and feature not in catalog.benefits:
        raise InvalidChange("feature", f"unknown feature {quoted(feature)}")
    if metric is not None and metric not in catalog.metrics:
        raise InvalidChange("metric", f"unknown metric {quoted(metric)}")
    effective = snapshot.effective(catalog, now)  # the subscription as it stands now
    sub = effective.account.subscription
    if sub is None or sub.status in SUSPENDED_STATUSES:
        return CheckResult(allowed=False, reason=CheckReason.SUSPENDED)
    if feature is not None:
        return _check_feature(effective, feature, catalog, now)
    assert metric is not None
    return await _check_metric(effective.account, effective, metric, requested, catalog, now, used)


def _lowest_tier_with(
    catalog: Catalog, now: datetime, feature: str | None, metric: str | None
) -> str | None:
    for tier in catalog.ladder(now):
        if feature is not None and feature in tier.benefit_keys:
            return tier.tier_key
        if metric is not None and tier.limit_for(metric) is not None:
            return tier.tier_key
    return None


def _check_feature(
    effective: Effective, feature: str, catalog: Catalog, now: datetime
) -> CheckResult:
    if feature in effective.held:
        return CheckResult(allowed=True)
    if feature in effective.ended:
        return CheckResult(allowed=False, reason=CheckReason.EXPIRED)
    tier = effective.tier
    exclusion = (
        next((x for x in tier.exclusions if x.benefit_key == feature), None) if tier else None
    )
    if exclusion is not None:
        return CheckResult(
            allowed=False, reason=CheckReason.EXCLUDED, tier_key=exclusion.included_in_tier_key
        )
    return CheckResult(
        allowed=False,
        reason=CheckReason.NOT_IN_TIER,
        tier_key=_lowest_tier_with(catalog, now, feature, None),
    )


async def _check_metric(
    account: Account,
    effective: Effective,
    metric_key: str,
    requested: float,
    catalog: Catalog,
    now: datetime,
    used_of: UsedOf,
) -> CheckResult:
    limit = effective.limits.get(metric_key)
    if limit is None:
        return CheckResult(
            allowed=False,
            reason=CheckReason.NOT_IN_TIER,
            remaining=0.0,
            tier_key=_lowest_tier_with(catalog, now, None, metric_key),
        )
    if limit.included is None:
        return CheckResult(allowed=True)
    period = account.period_at(catalog.metrics[metric_key].reset, now)
    used = await used_of(metric_key, period.start)
    remaining = max(limit.included - used, 0.0)
    if used + requested > limit.included and limit.enforcement == "hard":
        return CheckResult(allowed=False, reason=CheckReason.LIMIT_REACHED, remaining=remaining)
    return CheckResult(allowed=True, remaining=remaining)
