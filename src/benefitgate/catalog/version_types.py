"""GraphQL types of tier versions, their diffs, and catalog changes. Plain attributes, built
from models and a catalog snapshot's types."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from benefitgate.catalog import models
from benefitgate.catalog.diff import Change, Price
from benefitgate.catalog.diff import TierVersionDiff as DiffModel
from benefitgate.catalog.types import (
    Benefit,
    CatalogTypes,
    Exclusion,
    IncludedBenefit,
    Metric,
    Money,
    SupportLevel,
    Tier,
    TierLimit,
    TierOutcome,
)
from benefitgate.catalog.types import money as money_of

__all__ = [
    "BenefitChanged",
    "PriceChange",
    "TierVersion",
    "TierVersionChanged",
    "TierVersionDiff",
    "TierVersionStatus",
    "diff_type",
    "money",
    "version_type",
]


@strawberry.enum(description="Where a tier version stands in its tier's history.")
class TierVersionStatus(enum.Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    IN_FORCE = "in_force"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"


@strawberry.type(description="One version of a tier and where it stands.")
class TierVersion:
    id: strawberry.ID
    version: int
    status: TierVersionStatus
    published_at: datetime | None
    effective_from: datetime | None = strawberry.field(description="Null for a draft.")
    tier: Tier = strawberry.field(description="The tier as this version defines it.")


@strawberry.type(description="A benefit kept in both versions with other parameters.")
class BenefitParametersChange:
    benefit: Benefit
    before: JSON
    after: JSON


@strawberry.type(description="A limit on one metric in both versions, before and after.")
class LimitChange:
    metric: Metric
    before: TierLimit
    after: TierLimit


@strawberry.type(description="An exclusion in both versions, naming another tier or note.")
class ExclusionChange:
    before: Exclusion
    after: Exclusion


@strawberry.type(description="An outcome targeted by both versions, with another target.")
class OutcomeTargetChange:
    before: TierOutcome
    after: TierOutcome


@strawberry.type
class PriceChange:
    before: Money
    after: Money


@strawberry.type
class SupportChange:
    before: SupportLevel
    after: SupportLevel


@strawberry.type(
    description="What changed from one tier version to another. A null field or an "
    "empty list: no change of that kind."
)
class TierVersionDiff:
    from_version: TierVersion
    to_version: TierVersion
    unchanged: bool
    benefits_added: list[IncludedBenefit]
    benefits_removed: list[IncludedBenefit]
    benefits_changed: list[BenefitParametersChange]
    limits_added: list[TierLimit]
    limits_removed: list[TierLimit]
    limits_changed: list[LimitChange]
    exclusions_added: list[Exclusion]
    exclusions_removed: list[Exclusion]
    exclusions_changed: list[ExclusionChange]
    outcomes_added: list[TierOutcome]
    outcomes_removed: list[TierOutcome]
    outcomes_changed: list[OutcomeTargetChange]
    monthly_price: PriceChange | None
    annual_price: PriceChange | None
    support: SupportChange | None


@strawberry.type
class TierVersionChanged:
    tier_version: TierVersion = strawberry.field(description="As this change left it.")
    audit_entry_id: strawberry.ID
    replayed: bool


@strawberry.type
class BenefitChanged:
    benefit: Benefit = strawberry.field(description="As this change left it.")
    audit_entry_id: strawberry.ID
    replayed: bool


def money(price: Price) -> Money:
    return money_of(price.cents, price.currency)


def version_type(
    v: models.TierVersion, status: models.VersionStatus, types: CatalogTypes
) -> TierVersion:
    return TierVersion(
        id=strawberry.ID(str(v.id)),
        version=v.version,
        status=TierVersionStatus(status.value),
        published_at=v.published_at,
        effective_from=None if v.published_at is None else v.effective_from,
        tier=types.tier(v),
    )


def _price(change: Change[Price] | None) -> PriceChange | None:
    if change is None:
        return None
    return PriceChange(before=money(change.before), after=money(change.after))


def _support(d: DiffModel) -> SupportChange | None:
    if d.support is None:
        return None
    before, after = (
        SupportLevel(
            name=s.level, first_response_hours=s.first_response_hours, channels=list(s.channels)
        )
        for s in (d.support.before, d.support.after)
    )
    return SupportChange(before=before, after=after)


def _limit_change(c: Change[models.TierLimit], t: CatalogTypes) -> LimitChange:
    return LimitChange(
        metric=t.metrics[c.after.metric_key],
        before=t.tier_limit(c.before),
        after=t.tier_limit(c.after),
    )


def _parameters_change(
    c: Change[models.IncludedBenefit], t: CatalogTypes
) -> BenefitParametersChange:
    return BenefitParametersChange(
        benefit=t.benefits[c.after.benefit_key],
        before=JSON(c.before.parameters),
        after=JSON(c.after.parameters),
    )


def diff_type(
    d: DiffModel, statuses: tuple[models.VersionStatus, models.VersionStatus], t: CatalogTypes
) -> TierVersionDiff:
    """`statuses` are those of the diff's before and after versions."""
    return TierVersionDiff(
        from_version=version_type(d.before, statuses[0], t),
        to_version=version_type(d.after, statuses[1], t),
        unchanged=d.unchanged,
        benefits_added=[t.included(b) for b in d.benefits.added],
        benefits_removed=[t.included(b) for b in d.benefits.removed],
        benefits_changed=[_parameters_change(c, t) for c in d.benefits.changed],
        limits_added=[t.tier_limit(lim) for lim in d.limits.added],
        limits_removed=[t.tier_limit(lim) for lim in d.limits.removed],
        limits_changed=[_limit_change(c, t) for c in d.limits.changed],
        exclusions_added=[t.exclusion(e) for e in d.exclusions.added],
        exclusions_removed=[t.exclusion(e) for e in d.exclusions.removed],
        exclusions_changed=[
            ExclusionChange(before=t.exclusion(c.before), after=t.exclusion(c.after))
            for c in d.exclusions.changed
        ],
        outcomes_added=[t.tier_outcome(o) for o in d.outcomes.added],
        outcomes_removed=[t.tier_outcome(o) for o in d.outcomes.removed],
        outcomes_changed=[
            OutcomeTargetChange(before=t.tier_outcome(c.before), after=t.tier_outcome(c.after))
            for c in d.outcomes.changed
        ],
        monthly_price=_price(d.monthly_price),
        annual_price=_price(d.annual_price),
        support=_support(d),
    )
