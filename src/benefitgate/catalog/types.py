"""GraphQL types of the catalog, built once per catalog snapshot.

All fields are plain attributes: no per-field resolvers, so a large view stays cheap.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from functools import lru_cache

import strawberry
from strawberry.scalars import JSON

from benefitgate.catalog import models

__all__ = [
    "Benefit",
    "CatalogTypes",
    "Metric",
    "MetricChanged",
    "Money",
    "OutcomeChanged",
    "Tier",
    "catalog_types",
    "money",
]


@strawberry.enum
class BenefitKind(enum.Enum):
    FEATURE = "feature"
    LIMIT = "limit"
    CREDIT = "credit"
    SUPPORT = "support"
    EARLY_ACCESS = "early_access"
    EDUCATION = "education"
    GOVERNANCE = "governance"


@strawberry.enum
class Aggregation(enum.Enum):
    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    LATEST = "latest"
    UNIQUE_COUNT = "unique_count"


@strawberry.enum
class Reset(enum.Enum):
    BILLING_PERIOD = "billing_period"
    CALENDAR_MONTH = "calendar_month"
    NEVER = "never"


@strawberry.enum
class Enforcement(enum.Enum):
    HARD = "hard"
    SOFT = "soft"
    UNLIMITED = "unlimited"


@strawberry.enum
class Direction(enum.Enum):
    INCREASE = "increase"
    DECREASE = "decrease"


@strawberry.type
class Outcome:
    key: str
    name: str
    unit: str
    direction: Direction
    description: str
    metric: Metric | None = strawberry.field(
        description="The metric that measures this outcome, when one does."
    )
    value_per_unit: Money | None = strawberry.field(
        default=None,
        description="What a unit delivered is worth to the customer; impact summaries "
        "estimate the value delivered with it.",
    )


@strawberry.type
class Metric:
    key: str
    name: str
    unit: str
    aggregation: Aggregation
    reset: Reset
    group_by: list[str] = strawberry.field(
        description="Event properties (CloudEvents `data` members) its usage is also counted "
        "by, as `usageSeries(groupBy:)` and `account { usage(groupBy:) }` show."
    )
    unique_property: str | None = strawberry.field(
        description="For UNIQUE_COUNT: the event property whose distinct values it counts."
    )


@strawberry.type(description="The expected effect of a benefit on its outcome.")
class Impact:
    amount: float
    unit: str


@strawberry.type
class Benefit:
    key: str
    name: str
    kind: BenefitKind
    description: str
    outcome: Outcome | None
    impact: Impact | None
    metric: Metric | None
    introduced_on: date
    retired_on: date | None
    version: int = strawberry.field(description="Pass as `expectedVersion` to retire it.")


# GraphQL's Int is 32 bits: about 21 million dollars in cents, which a value delivered
# passes at $75 an hour past some 286,000 hours saved.
INT_RANGE = range(-(2**31), 2**31)


@strawberry.type(description="An amount in the currency's minor unit (cents).")
class Money:
    amount_cents: int | None = strawberry.field(
        description="Null when beyond GraphQL's 32-bit Int (-2^31 to 2^31 - 1); "
        "`cents` carries every amount."
    )
    cents: str = strawberry.field(
        description="The amount in cents as a decimal integer, exact at any size "
        "(a JavaScript number is not past 2^53)."
    )
    currency: str


def money(cents: int, currency: str) -> Money:
    """The GraphQL Money of an amount in cents, whatever its size."""
    fits = cents in INT_RANGE
    return Money(amount_cents=cents if fits else None, cents=str(cents), currency=currency)


@strawberry.type
class SupportLevel:
    name: str
    first_response_hours: int
    channels: list[str]


@strawberry.type
class TierOutcome:
    outcome: Outcome
    target_amount: float | None


@strawberry.type
class TierLimit:
    metric: Metric
    enforcement: Enforcement
    included: float | None = strawberry.field(description="Null when unlimited.")
    unlimited: bool


@strawberry.type
class IncludedBenefit:
    benefit: Benefit
    parameters: JSON


@strawberry.type
class TierRef:
    key: str
    name: str
    rank: int


@strawberry.type(description="A benefit this tier explicitly does not include.")
class Exclusion:
    benefit: Benefit
    included_in: TierRef | None = strawberry.field(description="The lowest tier including it.")
    note: str


@strawberry.type
class Tier:
    key: str
    name: str
    rank: int
    version: int
    version_id: strawberry.ID = strawberry.field(
        description="This tier version's id, as `tierVersionDiff` and migrations take it."
    )
    value_narrative: str
    monthly_price: Money
    annual_price: Money
    support: SupportLevel
    outcomes: list[TierOutcome]
    limits: list[TierLimit]
    benefits: list[IncludedBenefit]
    exclusions: list[Exclusion]
    effective_from: datetime


class CatalogTypes:
    """GraphQL objects for one catalog snapshot, shared by every request that reads it."""

    def __init__(self, catalog: models.Catalog) -> None:
        self.metrics = {k: _metric(m) for k, m in catalog.metrics.items()}
        self.outcomes = {k: _outcome(o, self.metrics) for k, o in catalog.outcomes.items()}
        self.benefits = {k: self.benefit(b) for k, b in catalog.benefits.items()}
        tiers = {v.tier_key: v for v in catalog.versions.values()}
        self.tier_refs = {k: TierRef(key=k, name=v.name, rank=v.rank) for k, v in tiers.items()}
        self.tiers = {vid: self.tier(v) for vid, v in catalog.versions.items()}

    def benefit(self, b: models.Benefit) -> Benefit:
        impact = None
        if b.impact_amount is not None and b.impact_unit is not None:
            impact = Impact(amount=b.impact_amount, unit=b.impact_unit)
        return Benefit(
            key=b.key,
            name=b.name,
            kind=BenefitKind(b.kind),
            description=b.description,
            outcome=self.outcomes.get(b.outcome_key) if b.outcome_key else None,
            impact=impact,
            metric=self.metrics.get(b.metric_key) if b.metric_key else None,
            introduced_on=b.introduced_on,
            retired_on=b.retired_on,
            version=b.version,
        )

    def tier(self, v: models.TierVersion) -> Tier:
        return Tier(
            key=v.tier_key,
            name=v.name,
            rank=v.rank,
            version=v.version,
            version_id=strawberry.ID(str(v.id)),
            value_narrative=v.value_narrative,
            monthly_price=money(v.monthly_price_cents, v.currency),
            annual_price=money(v.annual_price_cents, v.currency),
            support=SupportLevel(
                name=v.support_level,
                first_response_hours=v.support_first_response_hours,
                channels=list(v.support_channels),
            ),
            outcomes=[self.tier_outcome(o) for o in v.outcomes],
            limits=[self.tier_limit(lim) for lim in v.limits],
            benefits=[self.included(b) for b in v.benefits],
            exclusions=[self.exclusion(e) for e in v.exclusions],
            effective_from=v.effective_from,
        )

    def included(self, b: models.IncludedBenefit) -> IncludedBenefit:
        return IncludedBenefit(benefit=self.benefits[b.benefit_key], parameters=JSON(b.parameters))

    def exclusion(self, e: models.Exclusion) -> Exclusion:
        return Exclusion(
            benefit=self.benefits[e.benefit_key],
            included_in=self.tier_refs.get(e.included_in_tier_key or ""),
            note=e.note,
        )

    def tier_outcome(self, o: models.TierOutcome) -> TierOutcome:
        return TierOutcome(outcome=self.outcomes[o.outcome_key], target_amount=o.target_amount)

    def tier_limit(self, lim: models.TierLimit) -> TierLimit:
        return TierLimit(
            metric=self.metrics[lim.metric_key],
            enforcement=Enforcement(lim.enforcement),
            included=lim.included,
            unlimited=lim.included is None,
        )


def _outcome(o: models.Outcome, metrics: dict[str, Metric]) -> Outcome:
    return Outcome(
        key=o.key,
        name=o.name,
        unit=o.unit,
        direction=Direction(o.direction),
        description=o.description,
        metric=metrics.get(o.metric_key) if o.metric_key else None,
        value_per_unit=None
        if o.value_per_unit_cents is None or o.value_currency is None
        else money(o.value_per_unit_cents, o.value_currency),
    )


def _metric(m: models.Metric) -> Metric:
    return Metric(
        key=m.key,
        name=m.name,
        unit=m.unit,
        aggregation=Aggregation(m.aggregation),
        reset=Reset(m.reset),
        group_by=list(m.group_by),
        unique_property=m.unique_property,
    )


@lru_cache(maxsize=2)
def catalog_types(catalog: models.Catalog) -> CatalogTypes:
    """Built once per snapshot; a new snapshot (after invalidation) builds anew."""
    return CatalogTypes(catalog)


@strawberry.type
class MetricChanged:
    metric: Metric
    audit_entry_id: strawberry.ID
    replayed: bool


@strawberry.type
class OutcomeChanged:
    outcome: Outcome
    audit_entry_id: strawberry.ID
    replayed: bool
