"""Right-sizing and adoption recommendations, beside upgrade suggestions and with evidence
like theirs. Pure.

- **Lower tier** (`downgrade`): every limit of the account's tier (with its grants) was
  used under 30 % in each of the last three closed periods of its metric, the account held
  the tier through them, and a lower tier holds each metric's peak within 80 % of its own
  limits and includes every benefit the account used in the last 60 days. The lowest such
  tier saves most. When one metric alone needs more than that tier's limit and a limit
  pack for it exists, the same tier with that add-on (`downgrade_with_addon`).
- **Add-on instead of a whole tier** (`addon`): a metric under limit pressure or heading
  past its limit (the upgrade signals) that a limit pack raises, not granted already.
- **Adoption** (`adoption`): a benefit the account holds, measured (see `adoption`), held
  for 60 days and not used in them, with the outcome it would move.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from benefitgate.adoption.models import BenefitAdoption
from benefitgate.catalog.models import Benefit, Catalog, Metric, TierVersion
from benefitgate.common.quantities import figure
from benefitgate.entitlements.precedence import effective_limits
from benefitgate.suggestions.engine import confidence
from benefitgate.suggestions.models import SIGNALS, Evidence, Gain, Reason
from benefitgate.suggestions.signals import Situation, signals_on
from benefitgate.usage.periods import Period

__all__ = ["ADOPTION_DAYS", "LOW", "Recommendation", "recommend"]

LOW = 0.3  # share of a limit: usage this far below it, period after period
LOW_PERIODS = 3  # closed periods in a row
HEADROOM = 0.8  # a lower tier must hold the peak within this share of its limit
ADOPTION_DAYS = 60
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Recommendation:
    kind: str  # downgrade | downgrade_with_addon | addon | adoption
    reasons: tuple[Reason, ...]
    confidence: float
    tier: TierVersion | None = None  # the lower tier recommended
    benefit: Benefit | None = None  # the add-on, or the benefit to adopt
    gains: tuple[Gain, ...] = ()  # adoption: what the benefit moves
    losses: tuple[Gain, ...] = ()  # a lower tier: benefits it leaves out (none used lately)
    monthly_delta_cents: int | None = None  # a lower tier's; add-ons are priced apart
    annual_delta_cents: int | None = None


def recommend(
    evidence: Evidence, held: tuple[BenefitAdoption, ...], catalog: Catalog, now: datetime
) -> list[Recommendation]:
    sub = evidence.account.subscription
    if sub is None or sub.status not in ("active", "past_due"):
        return []
    current = catalog.versions.get(sub.tier_version_id)
    if current is None:
        return []
    situation = Situation(evidence, catalog, current, now)
    found = list(_lower_tier(situation, held))
    found += _addons(situation)
    found += _adoption(held, now)
    return found


def _closed_periods(metric: Metric, situation: Situation) -> list[Period]:
    """The metric's last LOW_PERIODS closed periods, oldest first; fewer when it never
    resets or when the subscription started within them."""
    account = situation.evidence.account
    sub = account.subscription
    assert sub is not None
    periods: list[Period] = []
    current = account.period_at(metric.reset, situation.now)
    while len(periods) < LOW_PERIODS and current.end is not None:
        current = account.period_at(metric.reset, current.start - _TICK)
        if current.start < sub.started_at:
            break
        periods.append(current)
    return periods[::-1]


def _peaks(situation: Situation) -> dict[str, tuple[float, list[Period]]]:
    """Each metric's peak over its last closed periods, for the metrics that have had them
    all; a metric that never resets stands at its one counter."""
    account = situation.evidence.account
    values = {(c.metric_key, c.period_start): c.value for c in situation.evidence.counters}
    peaks = {}
    for key, metric in situation.catalog.metrics.items():
        if metric.reset == "never":
            period = account.period_at(metric.reset, situation.now)
            peaks[key] = (values.get((key, period.start), 0.0), [period])
            continue
        periods = _closed_periods(metric, situation)
        if len(periods) == LOW_PERIODS:
            peaks[key] = (max(values.get((key, p.start), 0.0) for p in periods), periods)
    return peaks


def _far_below(situation: Situation, peaks: dict[str, tuple[float, list[Period]]]) -> list[Reason]:
    evidence = situation.evidence
    limits = effective_limits(
        situation.current, evidence.grants, situation.catalog.benefits, situation.now
    )
    reasons = []
    for key, limit in sorted(limits.items()):
        if limit.included is None or limit.included <= 0 or key not in situation.catalog.metrics:
            continue
        if key not in peaks:
            return []  # too young a subscription to judge by
        peak, periods = peaks[key]
        if peak >= limit.included * LOW:
            return []
        metric = situation.catalog.metrics[key]
        reasons.append(Reason(
            signal="usage_far_below", subject=key,
            message=f"{metric.name} used at most {peak / limit.included:.0%} of the "
            f"{figure(limit.included)} {metric.unit} limit" + _over(periods),
            observed=peak, limit=limit.included, since=periods[0].start,
            until=periods[-1].end, weight=SIGNALS["usage_far_below"],
        ))  # fmt: skip
    return reasons


def _over(periods: list[Period]) -> str:
    return "" if len(periods) == 1 else f" in each of the last {len(periods)} periods"


def _lower_tier(
    situation: Situation, held: tuple[BenefitAdoption, ...]
) -> Iterator[Recommendation]:
    peaks = _peaks(situation)
    reasons = _far_below(situation, peaks)
    if not reasons:
        return
    recent = situation.now - timedelta(days=ADOPTION_DAYS)
    used = {b.benefit.key for b in held if b.last_used_at is not None and b.last_used_at >= recent}
    granted = {g.benefit_key for g in situation.evidence.grants if g.active_at(situation.now)}
    lower = [v for v in situation.catalog.ladder(situation.now) if v.rank < situation.current.rank]
    for tier in lower:  # lowest first: it saves most
        if not used <= tier.benefit_keys | granted:
            continue
        short = _short(tier, situation, peaks)
        if short is None or len(short) > 1:
            continue
        addon = _pack_for(short[0], situation) if short else None
        if short and addon is None:
            continue
        yield _downgrade(situation, tier, tuple(reasons), addon, used | granted)
        return


def _short(
    tier: TierVersion, situation: Situation, peaks: dict[str, tuple[float, list[Period]]]
) -> list[str] | None:
    """The metrics whose peak the tier's limits would not hold within HEADROOM."""
    limits = effective_limits(
        tier, situation.evidence.grants, situation.catalog.benefits, situation.now
    )
    short = []
    for key, limit in limits.items():
        if limit.included is None:
            continue
        if key not in peaks:
            return None
        if peaks[key][0] > limit.included * HEADROOM:
            short.append(key)
    return short


def _pack_for(metric_key: str, situation: Situation) -> Benefit | None:
    today = situation.now.date()
    packs = [
        b for b in situation.catalog.benefits.values()
        if b.kind == "limit" and b.metric_key == metric_key and b.active_on(today)
    ]  # fmt: skip
    return min(packs, key=lambda b: b.key, default=None)


def _downgrade(
    situation: Situation, tier: TierVersion, reasons: tuple[Reason, ...], addon: Benefit | None,
    kept: set[str],
) -> Recommendation:  # fmt: skip
    current, catalog = situation.current, situation.catalog
    dropped = sorted(current.benefit_keys - tier.benefit_keys - kept)
    return Recommendation(
        kind="downgrade" if addon is None else "downgrade_with_addon",
        reasons=reasons,
        confidence=confidence(reasons),
        tier=tier,
        benefit=addon,
        losses=tuple(_gain(catalog.benefits[k]) for k in dropped if k in catalog.benefits),
        monthly_delta_cents=tier.monthly_price_cents - current.monthly_price_cents,
        annual_delta_cents=tier.annual_price_cents - current.annual_price_cents,
    )


def _addons(situation: Situation) -> Iterator[Recommendation]:
    granted = {g.benefit_key for g in situation.evidence.grants if g.active_at(situation.now)}
    pressed: dict[str, list[Reason]] = {}
    for reason in signals_on(situation.current, situation):
        if reason.signal in ("limit_pressure", "projected_overrun"):
            pressed.setdefault(reason.subject, []).append(reason)
    for metric_key, reasons in sorted(pressed.items()):
        pack = _pack_for(metric_key, situation)
        if pack is None or pack.key in granted:
            continue
        yield Recommendation("addon", tuple(reasons), confidence(tuple(reasons)), benefit=pack,
                             gains=(_gain(pack),))  # fmt: skip


def _adoption(held: tuple[BenefitAdoption, ...], now: datetime) -> Iterator[Recommendation]:
    since = now - timedelta(days=ADOPTION_DAYS)
    for b in held:
        if not b.unused_since(since):
            continue
        last = "never used" if b.last_used_at is None else f"last used {b.last_used_at:%Y-%m-%d}"
        reason = Reason(
            signal="benefit_unused", subject=b.benefit.key,
            message=f"{b.benefit.name} is included and was not used in the last "
            f"{ADOPTION_DAYS} days ({last})",
            since=since, until=now, weight=SIGNALS["benefit_unused"],
        )  # fmt: skip
        yield Recommendation("adoption", (reason,), confidence((reason,)), benefit=b.benefit,
                             gains=(_gain(b.benefit),))  # fmt: skip


def _gain(b: Benefit) -> Gain:
    return Gain(b.key, b.outcome_key, b.impact_amount, b.impact_unit)
