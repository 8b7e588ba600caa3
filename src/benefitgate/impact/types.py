"""GraphQL types of the impact summary."""

from __future__ import annotations

import enum
from datetime import date, datetime

import strawberry

from benefitgate.catalog.types import Benefit, CatalogTypes, Metric, Money, Outcome, Tier, money
from benefitgate.common.quantities import limit_percent
from benefitgate.entitlements.types import Grant, grant_type
from benefitgate.impact import models

__all__ = ["ImpactPeriod", "ImpactSummary", "impact_type"]


@strawberry.enum
class ImpactPeriod(enum.Enum):
    QUARTER = "quarter"
    TERM = "term"


@strawberry.type
class UsageMonth:
    month: date
    total: float
    peak: float


@strawberry.type(description="A metric's counter for one period, against the limit now.")
class UsagePeriod:
    period_start: datetime
    period_end: datetime | None
    value: float
    percent: float | None


@strawberry.type(description="A metric's usage over the range, and its trend against its limit.")
class MetricImpact:
    metric: Metric
    value: float = strawberry.field(
        description="The total, or the peak of a gauge, over the range's UTC days; over a "
        "term, a metric counted per billing period gives its term's counter, from the "
        "term's start instant."
    )
    limit: float | None = strawberry.field(description="In force now; null when unlimited.")
    peak_percent: float | None = strawberry.field(description="The fullest period's share.")
    trend_percent: float | None = strawberry.field(
        description="The later half of the months against the earlier half, in percent."
    )
    months: list[UsageMonth]
    periods: list[UsagePeriod]


@strawberry.type
class MilestoneAchieved:
    milestone_key: str
    name: str
    occurrence: str
    achieved_at: datetime
    reward: Benefit | None
    reward_amount: float | None


@strawberry.type(
    description="A grant that counted within the range, and how much of it was used. A limit "
    "override counts while it is its metric's newest active one; one a newer override "
    "superseded at the end of its time in the range is not listed."
)
class BenefitUse:
    grant: Grant
    used: float | None = strawberry.field(
        description="For a limit grant, what the periods it counted in took above the "
        "tier's limit, up to what it raised the limit by (a raise: its amount; an override: "
        "its amount above the tier's limit); for a credit measured by a metric, what was "
        "spent; else null."
    )


@strawberry.type
class OutcomeImpact:
    outcome: Outcome
    delivered: float | None = strawberry.field(description="Measured over the range.")
    target: float | None
    target_from: date | None
    target_to: date | None
    target_actual: float | None = strawberry.field(
        description="The actual over the target's days within the range."
    )
    percent: float | None
    met: bool
    value: Money | None = strawberry.field(description="Delivered times the value per unit.")


@strawberry.type(description="What the license delivered over a range of days.")
class ImpactSummary:
    account_id: strawberry.ID
    from_: date = strawberry.field(name="from")
    to: date
    metrics: list[MetricImpact]
    milestones: list[MilestoneAchieved]
    benefits_used: list[BenefitUse]
    outcomes: list[OutcomeImpact]
    value_delivered: Money | None = strawberry.field(
        description="The estimated value of the outcomes delivered; null when no outcome "
        "has a value per unit (or they differ in currency)."
    )
    new_since: date = strawberry.field(description="The last renewal.")
    new_benefits: list[Benefit] = strawberry.field(description="Introduced since then.")
    new_tier_versions: list[Tier] = strawberry.field(description="Published since then.")


def _metric(m: models.MetricImpact, types: CatalogTypes) -> MetricImpact:
    limit = m.limit
    return MetricImpact(
        metric=types.metrics[m.metric.key],
        value=m.value,
        limit=limit,
        peak_percent=m.peak_percent,
        trend_percent=m.trend_percent,
        months=[UsageMonth(month=r.month, total=r.total, peak=r.peak) for r in m.months],
        periods=[
            UsagePeriod(
                period_start=c.period_start,
                period_end=c.period_end,
                value=c.value,
                percent=limit_percent(c.value, limit),
            )
            for c in m.periods
        ],
    )


def _outcome(o: models.OutcomeImpact, types: CatalogTypes) -> OutcomeImpact:
    t = o.target
    currency = o.outcome.value_currency
    return OutcomeImpact(
        outcome=types.outcomes[o.outcome.key],
        delivered=o.delivered,
        target=None if t is None else t.target,
        target_from=None if t is None else t.starts_on,
        target_to=None if t is None else t.ends_on,
        target_actual=None if t is None else t.actual,
        percent=o.percent,
        met=o.met,
        value=None if o.value_cents is None or currency is None else money(o.value_cents, currency),
    )


def impact_type(s: models.ImpactSummary, types: CatalogTypes) -> ImpactSummary:
    return ImpactSummary(
        account_id=strawberry.ID(str(s.account_id)),
        from_=s.range.start,
        to=s.range.end,
        metrics=[_metric(m, types) for m in s.metrics],
        milestones=[
            MilestoneAchieved(
                milestone_key=a.milestone_key,
                name=a.name,
                occurrence=a.occurrence,
                achieved_at=a.achieved_at,
                reward=types.benefits.get(a.reward_benefit_key) if a.reward_benefit_key else None,
                reward_amount=a.reward_amount,
            )
            for a in s.achieved
        ],
        benefits_used=[
            BenefitUse(grant=grant_type(u.grant, types), used=u.used)
            for u in s.benefits_used
            if u.grant.benefit_key in types.benefits
        ],
        outcomes=[_outcome(o, types) for o in s.outcomes],
        value_delivered=None
        if s.value_cents is None or s.currency is None
        else money(s.value_cents, s.currency),
        new_since=s.new_since,
        new_benefits=[types.benefits[b.key] for b in s.new_benefits],
        new_tier_versions=[types.tiers[v.id] for v in s.new_versions],
    )
