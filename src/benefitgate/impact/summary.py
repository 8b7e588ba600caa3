"""The impact summary assembled from its folded rows. Pure; loops run over months,
periods, targets and grants, never over raw usage.

- A metric's value over the range is its total (sum, count) or its peak (max, latest;
  unique_count: its month with the most distinct values), from its daily buckets (whole
  UTC days). Over a term, a metric counted per billing period takes the term's counter
  instead (zero without one): it counts from the term's exact start, which daily
  buckets cannot (a term may start at 23:30 UTC). So does any metric whose counter
  starts at the term's start and runs past now.
- A limited metric is compared per period (its counters) with the limit in force now.
- Its trend is the mean of the later half of its months against the earlier half.
- A grant is listed when it counted in the range (`impact.spans`): an override counts
  while it is its metric's newest active one, and is left out when superseded at the end
  of its time in the range.
  A limit grant is used by what the periods it counted in took above the tier's limit, up
  to what it raised the limit by (a raise: its amount; an override: its amount above the
  tier's limit); a credit measured by a metric is spent by that metric's total in the range.
- An outcome delivers its measuring metric's value over the range; the value delivered is
  that times its value per unit, for outcomes that should increase (a decrease needs a
  baseline to be worth anything).
- What is new in the catalog counts from the last renewal: the current period's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog, Metric, Outcome, TierVersion
from benefitgate.common.quantities import limit_percent, percent_of
from benefitgate.entitlements.models import EffectiveLimit, Grant
from benefitgate.entitlements.precedence import effective_limits
from benefitgate.impact.models import (
    Achieved,
    CounterRow,
    DayRange,
    GrantUse,
    ImpactSummary,
    MetricImpact,
    MonthRow,
    OutcomeImpact,
    TargetRow,
)
from benefitgate.impact.spans import Span, counting_spans, overlaps
from benefitgate.targets.progress import attainment

__all__ = ["summarise"]

# A unique count is read as a gauge: the months' distinct values do not add up.
GAUGES = frozenset({"max", "latest", "unique_count"})


def summarise(
    account: Account,
    days: DayRange,
    catalog: Catalog,
    now: datetime,
    rows: tuple[list[MonthRow], list[CounterRow], list[TargetRow], list[Achieved], list[Grant]],
) -> ImpactSummary:
    months, counters, targets, achieved, grants = rows
    tier = (
        None
        if account.subscription is None
        else catalog.versions.get(account.subscription.tier_version_id)
    )
    limits = effective_limits(tier, grants, catalog.benefits, now)
    start, end = days.instants()
    spans = counting_spans(grants, catalog.benefits, start, end)
    metrics = tuple(
        _metric(catalog.metrics[key], months, counters, limits.get(key), (days.since, now))
        for key in sorted({m.metric_key for m in months} | {c.metric_key for c in counters})
        if key in catalog.metrics
    )
    outcomes = _outcomes(catalog, {m.metric.key: m for m in metrics}, targets)
    valued = [o for o in outcomes if o.value_cents is not None]
    currencies = {o.outcome.value_currency for o in valued}
    since = _last_renewal(account, now)
    return ImpactSummary(
        account_id=account.id,
        range=days,
        metrics=metrics,
        achieved=tuple(achieved),
        benefits_used=tuple(
            _use(g, spans[g.id], tier, catalog, counters, months) for g in grants if g.id in spans
        ),
        outcomes=outcomes,
        value_cents=sum(o.value_cents or 0 for o in valued) if len(currencies) == 1 else None,
        currency=currencies.pop() if len(currencies) == 1 else None,
        new_since=since.date(),
        new_benefits=tuple(
            b
            for b in sorted(catalog.benefits.values(), key=lambda b: b.key)
            if since.date() <= b.introduced_on <= now.date() and b.active_on(now.date())
        ),
        new_versions=tuple(
            v
            for v in sorted(catalog.versions.values(), key=lambda v: (v.rank, v.version))
            if v.published_at is not None and since <= v.published_at <= now
        ),
    )


def _value(metric: Metric, months: Sequence[MonthRow]) -> float:
    if not months:
        return 0.0
    if metric.aggregation in ("max", "unique_count"):
        return max(m.peak for m in months)
    if metric.aggregation == "latest":
        return months[-1].last
    return sum(m.total for m in months)


def _trend(metric: Metric, months: Sequence[MonthRow]) -> float | None:
    points = [m.peak if metric.aggregation in GAUGES else m.total for m in months]
    if len(points) < 2:
        return None
    half = len(points) // 2
    early = sum(points[:half]) / half
    late = sum(points[-half:]) / half
    return None if early == 0 else percent_of(late - early, early)


def _metric(
    metric: Metric,
    months: Sequence[MonthRow],
    counters: Sequence[CounterRow],
    limit: EffectiveLimit | None,
    term: tuple[datetime | None, datetime],
) -> MetricImpact:
    mine = tuple(m for m in months if m.metric_key == metric.key)
    periods = tuple(c for c in counters if c.metric_key == metric.key)
    included = None if limit is None else limit.included
    peak = max((c.value for c in periods), default=0.0)
    exact = _term_value(metric, periods, *term)
    return MetricImpact(
        metric=metric,
        months=mine,
        periods=periods,
        value=_value(metric, mine) if exact is None else exact,
        limit=included,
        peak_percent=limit_percent(peak, included),
        trend_percent=_trend(metric, mine),
    )


def _term_value(
    metric: Metric, periods: Sequence[CounterRow], since: datetime | None, now: datetime
) -> float | None:
    """The metric's value over a term starting at `since`, when a counter holds it
    exactly: one that starts then and runs past now. None when none can."""
    if since is None:
        return None
    for c in periods:
        if c.period_start == since and (c.period_end is None or c.period_end > now):
            return c.value
    # Counted per billing period, its counter for this term would start at `since`.
    return 0.0 if metric.reset == "billing_period" else None


def _outcomes(
    catalog: Catalog, metrics: dict[str, MetricImpact], targets: Sequence[TargetRow]
) -> tuple[OutcomeImpact, ...]:
    by_outcome = {t.outcome_key: t for t in targets}
    found = []
    for outcome in sorted(catalog.outcomes.values(), key=lambda o: o.key):
        measured = metrics.get(outcome.metric_key) if outcome.metric_key else None
        target = by_outcome.get(outcome.key)
        if measured is None and target is None:
            continue
        delivered = None if measured is None else measured.value
        percent, met = (
            (None, False)
            if target is None
            else attainment(outcome.direction, target.target, target.actual)
        )
        found.append(
            OutcomeImpact(outcome, delivered, target, percent, met, _worth(outcome, delivered))
        )
    return tuple(found)


def _worth(outcome: Outcome, delivered: float | None) -> int | None:
    if delivered is None or outcome.value_per_unit_cents is None or outcome.direction != "increase":
        return None
    return round(delivered * outcome.value_per_unit_cents)


def _use(
    grant: Grant,
    spans: Sequence[Span],
    tier: TierVersion | None,
    catalog: Catalog,
    counters: Sequence[CounterRow],
    months: Sequence[MonthRow],
) -> GrantUse:
    benefit = catalog.benefits.get(grant.benefit_key)
    if benefit is None or benefit.metric_key is None:
        return GrantUse(grant, None)
    if benefit.kind == "credit":
        metric = catalog.metrics.get(benefit.metric_key)
        mine = [m for m in months if m.metric_key == benefit.metric_key]
        return GrantUse(grant, None if metric is None else _value(metric, mine))
    included = _tier_included(tier, benefit.metric_key)
    if grant.amount is None or included is None:
        return GrantUse(grant, None)
    raised = grant.amount if grant.mode == "add" else max(grant.amount - included, 0.0)
    covered = [
        c
        for c in counters
        if c.metric_key == benefit.metric_key and overlaps(c.period_start, c.period_end, spans)
    ]
    above = max((c.value - included for c in covered), default=0.0)
    return GrantUse(grant, min(max(above, 0.0), raised))


def _tier_included(tier: TierVersion | None, metric_key: str) -> float | None:
    limit = None if tier is None else tier.limit_for(metric_key)
    return None if limit is None else limit.included


def _last_renewal(account: Account, now: datetime) -> datetime:
    sub = account.subscription
    if sub is None:
        return datetime.combine(now.date(), time(), UTC)
    return sub.current_period_start
