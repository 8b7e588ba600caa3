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
   overridden. An older active override is superseded: it counts for nothing while the
   newer one is active (it still gives the benefit, and takes over if the newer one ends).
5. An entitlement's amount is what its active grants count for by rule 4: its `add`
   grants (a credit's lots, a limit's raises) and the metric's newest override when it is
   this benefit's; superseded overrides add nothing. None when no grant counts one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from uuid import UUID

from benefitgate.catalog.models import Benefit, TierLimit, TierVersion
from benefitgate.entitlements.models import EffectiveLimit, Entitlement, Grant

__all__ = ["SOURCE_PRECEDENCE", "effective_entitlements", "effective_limits", "newest_overrides"]

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


def _limit_grants(
    grants: Iterable[Grant], benefits: Mapping[str, Benefit]
) -> dict[str, list[Grant]]:
    """The grants (active, as given) that act on a metric's limit, by metric."""
    found: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        benefit = benefits.get(grant.benefit_key)
        if benefit is not None and benefit.metric_key is not None and grant.amount is not None:
            found[benefit.metric_key].append(grant)
    return found


def _newest_override(grants: Iterable[Grant]) -> Grant | None:
    # Of overrides made at the same instant the later in the list wins (sorted is stable).
    overrides = sorted((g for g in grants if g.mode == "override"), key=lambda g: g.created_at)
    return overrides[-1] if overrides else None


def newest_overrides(
    grants: Iterable[Grant], benefits: Mapping[str, Benefit], now: datetime
) -> dict[str, Grant]:
    """The override in force on each metric at `now` (rule 4): the newest active one."""
    found = {}
    for metric, held in _limit_grants(_active(grants, now), benefits).items():
        newest = _newest_override(held)
        if newest is not None:
            found[metric] = newest
    return found


def _amount(grants: list[Grant], in_force: Collection[UUID]) -> float | None:
    """Rule 5: what the grants count for; a superseded override counts for nothing."""
    amounts = [
        g.amount
        for g in grants
        if g.amount is not None and (g.mode != "override" or g.id in in_force)
    ]
    return sum(amounts) if amounts else None


def effective_entitlements(
    tier: TierVersion | None,
    grants: Iterable[Grant],
    benefits: Mapping[str, Benefit],
    now: datetime,
) -> list[Entitlement]:
    """Every benefit the account may use at `now`, ordered by benefit key; `benefits` (the
    catalog's) tell which metric's limit a grant acts on."""
    active = _active(grants, now)
    by_benefit: dict[str, list[Grant]] = defaultdict(list)
    for grant in active:
        by_benefit[grant.benefit_key].append(grant)
    in_force = {g.id for g in newest_overrides(active, benefits, now).values()}
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
                amount=_amount(given, in_force),
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
    limit_grants = _limit_grants(_active(grants, now), benefits)
    tier_limits = {lim.metric_key: lim for lim in tier.limits} if tier else {}
    named = set(tier_limits) | set(limit_grants)
    return {
        metric: _resolve_limit(metric, tier_limits.get(metric), limit_grants.get(metric, []))
        for metric in sorted(named if only is None else named.intersection(only))
    }


def _resolve_limit(metric: str, base: TierLimit | None, grants: list[Grant]) -> EffectiveLimit:
    enforcement = base.enforcement if base else "hard"
    included = base.included if base else 0.0
    sources = ["tier"] if base else []
    newest = _newest_override(grants)
    if newest is not None:
        included, sources = newest.amount, [newest.source]
        if enforcement == "unlimited":
            enforcement = "hard"
    if included is None:
        return EffectiveLimit(metric, "unlimited", None, tuple(sources))
    adds = [g for g in grants if g.mode == "add" and g.amount is not None]
    total = included + sum(g.amount for g in adds if g.amount is not None)
    sources += [g.source for g in adds]
    return EffectiveLimit(metric, enforcement, total, tuple(dict.fromkeys(sources)))
