"""The one precedence rule that turns a tier and grants into effective entitlements.

1. Only grants active now count: not revoked, `valid_from <= now < valid_until`.
2. An account has a benefit when its tier includes it or an active grant gives it. A grant
   lifts a tier exclusion: an explicit grant is a deliberate decision about this account.
3. Where several sources give the same benefit, they rank
   manual > trial > promotional > addon > milestone > anniversary > tier; the strongest is
   reported as the source and its parameters win. The entitlement expires when the last of
   its sources does; the tier never expires.
4. A metric's limit starts at the tier's. The newest active `override` grant of a limit
   benefit for that metric replaces it (and makes it hard unless the tier's was soft);
   active `add` grants are summed on top. An unlimited tier limit stays unlimited unless
   overridden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from benefitgate.catalog.models import Benefit, TierLimit, TierVersion
from benefitgate.entitlements.models import EffectiveLimit, Entitlement, Grant

__all__ = ["SOURCE_PRECEDENCE", "effective_entitlements", "effective_limits"]

SOURCE_PRECEDENCE = (
    "manual",
    "trial",
    "promotional",
    "addon",
    "milestone",
    "anniversary",
    "tier",
)
_RANK = {source: rank for rank, source in enumerate(SOURCE_PRECEDENCE)}


def _active(grants: Iterable[Grant], now: datetime) -> list[Grant]:
    return [g for g in grants if g.active_at(now)]


def _latest_expiry(grants: list[Grant], from_tier: bool) -> datetime | None:
    if from_tier or any(g.valid_until is None for g in grants):
        return None
    return max(g.valid_until for g in grants if g.valid_until is not None)


def _amount(grants: list[Grant]) -> float | None:
    amounts = [g.amount for g in grants if g.amount is not None]
    return sum(amounts) if amounts else None


def effective_entitlements(
    tier: TierVersion | None, grants: Iterable[Grant], now: datetime
) -> list[Entitlement]:
    """Every benefit the account may use at `now`, ordered by benefit key."""
    by_benefit: dict[str, list[Grant]] = defaultdict(list)
    for grant in _active(grants, now):
        by_benefit[grant.benefit_key].append(grant)
    tier_params = {b.benefit_key: b.parameters for b in tier.benefits} if tier else {}
    result = []
    for key in sorted(set(by_benefit) | set(tier_params)):
        given = sorted(
            by_benefit.get(key, []), key=lambda g: (_RANK[g.source], -g.created_at.timestamp())
        )
        sources = list(dict.fromkeys(g.source for g in given))
        if key in tier_params:
            sources.append("tier")
        result.append(
            Entitlement(
                benefit_key=key,
                source=sources[0],
                sources=tuple(sources),
                amount=_amount(given),
                expires_at=_latest_expiry(given, key in tier_params),
                parameters=tier_params.get(key, {}),
            )
        )
    return result


def effective_limits(
    tier: TierVersion | None,
    grants: Iterable[Grant],
    benefits: Mapping[str, Benefit],
    now: datetime,
    only: Collection[str] | None = None,
) -> dict[str, EffectiveLimit]:
    """The limit of every metric the tier or an active limit grant names (of those in
    `only`, when given)."""
    limit_grants: dict[str, list[Grant]] = defaultdict(list)
    for grant in _active(grants, now):
        benefit = benefits.get(grant.benefit_key)
        if benefit is not None and benefit.metric_key is not None and grant.amount is not None:
            limit_grants[benefit.metric_key].append(grant)
    tier_limits = {lim.metric_key: lim for lim in tier.limits} if tier else {}
    named = set(tier_limits) | set(limit_grants)
    return {
        metric: _resolve_limit(metric, tier_limits.get(metric), limit_grants[metric])
        for metric in sorted(named if only is None else named.intersection(only))
    }


def _resolve_limit(metric: str, base: TierLimit | None, grants: list[Grant]) -> EffectiveLimit:
    enforcement = base.enforcement if base else "hard"
    included = base.included if base else 0.0
    sources = ["tier"] if base else []
    overrides = sorted((g for g in grants if g.mode == "override"), key=lambda g: g.created_at)
    if overrides:
        newest = overrides[-1]
        included, sources = newest.amount, [newest.source]
        if enforcement == "unlimited":
            enforcement = "hard"
    if included is None:
        return EffectiveLimit(metric, "unlimited", None, tuple(sources))
    adds = [g for g in grants if g.mode == "add" and g.amount is not None]
    total = included + sum(g.amount for g in adds if g.amount is not None)
    sources += [g.source for g in adds]
    return EffectiveLimit(metric, enforcement, total, tuple(dict.fromkeys(sources)))
