"""The signals an account's evidence raises on a given tier. Pure.

Asking what the same evidence would raise on a higher tier is how the engine knows which
tier resolves a signal: a tier resolves a reason when the reason would not arise there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from benefitgate.catalog.models import Catalog, Metric, TierVersion
from benefitgate.entitlements.models import EffectiveLimit
from benefitgate.entitlements.precedence import effective_limits
from benefitgate.suggestions.models import SIGNALS, Denial, Evidence, Reason
from benefitgate.usage.periods import Period
from benefitgate.usage.trend import project

__all__ = ["DENIAL_WINDOW", "MILESTONE_WINDOW", "Situation", "signals_on"]

PRESSURE = 0.8  # share of a limit that counts as pressure in a period
PRESSURED_PERIODS = 2  # of the last three
SEAT_PRESSURE = 0.9
DENIAL_WINDOW = timedelta(days=90)  # denials older than this say nothing any more
MILESTONE_WINDOW = timedelta(days=90)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Situation:
    evidence: Evidence
    catalog: Catalog
    current: TierVersion  # the account's tier now
    now: datetime
    # Each reset's last periods, found once: they depend on the account and the instant
    # only, and the engine asks for them on every tier it weighs.
    periods: dict[str, list[Period]] = field(default_factory=dict, compare=False)


def signals_on(tier: TierVersion, situation: Situation) -> list[Reason]:
    """The reasons the evidence gives for an upgrade if the account were on `tier`."""
    return [
        *_limit_reasons(tier, situation),
        *_denial_reasons(tier, situation),
        *_growth_reasons(tier, situation),
        *_outcome_reasons(tier, situation),
    ]


def _last_periods(metric: Metric, situation: Situation) -> list[Period]:
    """The metric's current period and the two before it, newest first; one period for a
    metric that never resets."""
    found = situation.periods.get(metric.reset)
    if found is not None:
        return found
    account = situation.evidence.account
    periods = [account.period_at(metric.reset, situation.now)]
    while len(periods) < 3 and periods[-1].end is not None:
        periods.append(account.period_at(metric.reset, periods[-1].start - _TICK))
    situation.periods[metric.reset] = periods
    return periods


def _limit_reasons(tier: TierVersion, situation: Situation) -> Iterator[Reason]:
    evidence = situation.evidence
    limits = effective_limits(tier, evidence.grants, situation.catalog.benefits, situation.now)
    values = {(c.metric_key, c.period_start): c.value for c in evidence.counters}
    for key, limit in sorted(limits.items()):
        metric = situation.catalog.metrics.get(key)
        if metric is None or limit.included is None or limit.included <= 0:
            continue
        periods = _last_periods(metric, situation)
        readings = [(p, values.get((key, p.start), 0.0)) for p in periods]
        yield from _pressure(metric, limit, readings)
        yield from _overrun(metric, limit, readings[0], situation.now)


def _pressure(
    metric: Metric, limit: EffectiveLimit, readings: list[tuple[Period, float]]
) -> Iterator[Reason]:
    assert limit.included is not None
    pressured = [(p, v) for p, v in readings if v >= limit.included * PRESSURE]
    if len(pressured) < min(PRESSURED_PERIODS, len(readings)):
        return
    peak = max(v for _, v in pressured)
    yield Reason(
        signal="limit_pressure",
        subject=metric.key,
        message=f"{metric.name} reached {peak / limit.included:.0%} of the "
        f"{limit.included:g} {metric.unit} limit in {len(pressured)} of the last "
        f"{len(readings)} periods",
        observed=peak,
        limit=limit.included,
        since=min(p.start for p, _ in pressured),
        until=max(p.end or p.start for p, _ in pressured),
        weight=SIGNALS["limit_pressure"] + (0.15 if limit.enforcement == "hard" else 0.0),
    )


def _overrun(
    metric: Metric, limit: EffectiveLimit, current: tuple[Period, float], now: datetime
) -> Iterator[Reason]:
    period, used = current
    projection = project(metric.aggregation, used, limit.included, period, now)
    if projection is None or projection.limit_reached_at is None:
        return
    yield Reason(
        signal="projected_overrun",
        subject=metric.key,
        message=f"At its run rate, {metric.name} reaches the {limit.included:g} "
        f"{metric.unit} limit on {projection.limit_reached_at.date().isoformat()}, before "
        f"the period ends (projected {projection.value:g})",
        observed=projection.value,
        limit=limit.included,
        since=period.start,
        until=projection.limit_reached_at,
        weight=SIGNALS["projected_overrun"],
    )


def _denial_reasons(tier: TierVersion, situation: Situation) -> Iterator[Reason]:
    granted = {g.benefit_key for g in situation.evidence.grants if g.active_at(situation.now)}
    for denial in _recent_denials_by_feature(situation):
        feature = denial.feature
        if feature in tier.benefit_keys or feature in granted:
            continue
        benefit = situation.catalog.benefits.get(feature)
        name = benefit.name if benefit else feature
        yield Reason(
            signal="denied_feature",
            subject=feature,
            message=f"{name} was asked for and denied {denial.count} times",
            observed=float(denial.count),
            since=denial.first_at,
            until=denial.last_at,
            weight=round(SIGNALS["denied_feature"] + 0.05 * min(denial.count, 4), 2),
        )


def _recent_denials_by_feature(situation: Situation) -> list[Denial]:
    """The recent denials of each feature as one: a feature denied under two reasons (not
    in the tier, then excluded after a tier change) is one piece of evidence, not two."""
    recent = situation.now - DENIAL_WINDOW
    folded: dict[str, Denial] = {}
    for denial in situation.evidence.denials:
        if denial.last_at < recent:
            continue
        seen = folded.get(denial.feature)
        folded[denial.feature] = denial if seen is None else _fold(seen, denial)
    return list(folded.values())


def _fold(a: Denial, b: Denial) -> Denial:
    reason = a.reason if a.last_at >= b.last_at else b.reason  # the latest reason stands
    first, last = min(a.first_at, b.first_at), max(a.last_at, b.last_at)
    return Denial(a.feature, reason, a.count + b.count, first, last)


def _growth_reasons(tier: TierVersion, situation: Situation) -> Iterator[Reason]:
    """Seats nearly full and milestones reached say the account is growing: any higher
    tier answers them, so they arise on the account's own tier (or a lower one) only."""
    if tier.rank > situation.current.rank:
        return
    yield from _seat_reason(situation)
    recent = situation.now - MILESTONE_WINDOW
    for achieved in situation.evidence.achieved:
        if achieved.kind == "renewal_anniversary" or achieved.achieved_at < recent:
            continue  # loyalty, not usage: an anniversary says nothing about the tier
        yield Reason(
            signal="milestone_reached",
            subject=achieved.milestone_key,
            message=f"Reached the milestone {achieved.name}",
            since=achieved.achieved_at,
            until=achieved.achieved_at,
            weight=SIGNALS["milestone_reached"],
        )


def _seat_reason(situation: Situation) -> Iterator[Reason]:
    sub = situation.evidence.account.subscription
    assigned = situation.evidence.seats_assigned
    if sub is None or assigned < sub.seats * SEAT_PRESSURE:
        return
    yield Reason(
        signal="seat_pressure",
        subject="seats",
        message=f"{assigned} of {sub.seats} purchased seats are assigned",
        observed=float(assigned),
        limit=float(sub.seats),
        until=situation.now,
        weight=SIGNALS["seat_pressure"],
    )


def _outcome_reasons(tier: TierVersion, situation: Situation) -> Iterator[Reason]:
    """A target behind pace arises on every tier that adds no benefit moving its outcome."""
    added = tier.benefit_keys - situation.current.benefit_keys
    moved = {
        situation.catalog.benefits[k].outcome_key for k in added if k in situation.catalog.benefits
    }
    today = situation.now.date()
    for progress in situation.evidence.targets:
        target = progress.target
        if progress.met or progress.percent is None or target.outcome_key in moved:
            continue
        days = (target.ends_on - target.starts_on).days + 1
        elapsed = min(max((today - target.starts_on).days + 1, 0), days)
        pace = elapsed / days * 100
        if progress.percent >= pace:
            continue
        outcome = situation.catalog.outcomes.get(target.outcome_key)
        name = outcome.name if outcome else target.outcome_key
        yield Reason(
            signal="outcome_lagging",
            subject=target.outcome_key,
            message=f"{name} is at {progress.percent:g}% of its target with {pace:.0f}% of "
            f"the target's time gone",
            observed=progress.actual,
            limit=target.target,
            since=datetime.combine(target.starts_on, datetime.min.time(), situation.now.tzinfo),
            until=datetime.combine(target.ends_on, datetime.min.time(), situation.now.tzinfo),
            weight=SIGNALS["outcome_lagging"],
        )
