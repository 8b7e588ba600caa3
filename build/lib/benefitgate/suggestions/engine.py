"""The upgrade suggestion engine: from one account's evidence to the lowest higher tier
that resolves its signals, with the reasons, the gains and the price delta. Pure.

1. The reasons are the signals the evidence raises on the account's tier that at least one
   higher tier resolves; a signal no tier resolves is no argument for an upgrade.
2. The suggested tier is the lowest higher tier that resolves every reason; when none does,
   the lowest of those that resolve the most. Its reasons are the ones it resolves.
3. Confidence treats the reasons as independent evidence: 1 - prod(1 - weight).
"""

from __future__ import annotations

from datetime import datetime

from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.suggestions.models import Evidence, Gain, Proposal, Reason
from benefitgate.suggestions.signals import Situation, signals_on

__all__ = ["confidence", "propose"]


def propose(evidence: Evidence, catalog: Catalog, now: datetime) -> Proposal | None:
    """The suggestion the evidence supports now, or None."""
    sub = evidence.account.subscription
    if sub is None or sub.status not in ("active", "past_due"):
        return None  # trials and cancellations have their own conversation
    current = catalog.versions.get(sub.tier_version_id)
    if current is None:
        return None
    situation = Situation(evidence, catalog, current, now)
    reasons = signals_on(current, situation)
    higher = [v for v in catalog.ladder(now) if v.rank > current.rank]
    resolved = {v.id: _resolved(reasons, v, situation) for v in higher}
    best = _lowest_sufficient(higher, resolved)
    if best is None:
        return None
    kept = tuple(r for r in reasons if r.key in resolved[best.id])
    return Proposal(
        account_id=evidence.account.id,
        tier_key=best.tier_key,
        tier_version_id=best.id,
        from_tier_version_id=current.id,
        reasons=kept,
        gains=_gains(current, best, catalog, now),
        confidence=confidence(kept),
        currency=best.currency,
        monthly_delta_cents=best.monthly_price_cents - current.monthly_price_cents,
        annual_delta_cents=best.annual_price_cents - current.annual_price_cents,
    )


def _resolved(
    reasons: list[Reason], tier: TierVersion, situation: Situation
) -> set[tuple[str, str]]:
    remaining = {r.key for r in signals_on(tier, situation)}
    return {r.key for r in reasons} - remaining


def _lowest_sufficient(
    higher: list[TierVersion], resolved: dict[int, set[tuple[str, str]]]
) -> TierVersion | None:
    wanted = set().union(*resolved.values()) if resolved else set()
    if not wanted:
        return None
    for tier in higher:  # lowest rank first
        if resolved[tier.id] == wanted:
            return tier
    most = max(len(keys) for keys in resolved.values())
    return next(tier for tier in higher if len(resolved[tier.id]) == most)


def confidence(reasons: tuple[Reason, ...]) -> float:
    doubt = 1.0
    for reason in reasons:
        doubt *= 1 - reason.weight
    return max(round(1 - doubt, 2), 0.01)


def _gains(
    current: TierVersion, target: TierVersion, catalog: Catalog, now: datetime
) -> tuple[Gain, ...]:
    added = sorted(target.benefit_keys - current.benefit_keys)
    today = now.date()
    return tuple(
        Gain(b.key, b.outcome_key, b.impact_amount, b.impact_unit)
        for b in (catalog.benefits[k] for k in added if k in catalog.benefits)
        if b.active_on(today)
    )
