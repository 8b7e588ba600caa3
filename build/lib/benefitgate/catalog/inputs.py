"""GraphQL inputs of catalog changes, and the models they stand for."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from benefitgate.catalog import models
from benefitgate.catalog.drafts import TierDraft
from benefitgate.catalog.types import BenefitKind, Enforcement

__all__ = ["BenefitInput", "TierVersionDraftInput"]


@strawberry.input
class TierOutcomeInput:
    outcome: str = strawberry.field(description="An outcome key.")
    target: float | None = None


@strawberry.input
class TierLimitInput:
    metric: str = strawberry.field(description="A metric key.")
    enforcement: Enforcement
    included: float | None = strawberry.field(default=None, description="Null when unlimited.")


@strawberry.input
class IncludedBenefitInput:
    benefit: str = strawberry.field(description="A benefit key.")
    parameters: JSON | None = strawberry.field(default=None, description="A JSON object.")


@strawberry.input
class ExclusionInput:
    benefit: str = strawberry.field(description="A benefit key.")
    included_in: str | None = strawberry.field(
        default=None, description="The key of the lowest tier that includes it."
    )
    note: str = ""


@strawberry.input(
    description="A tier version to draft. Every field left null copies from the tier's "
    "newest version; a list given replaces that version's list whole. Prices are in cents."
)
class TierVersionDraftInput:
    tier: str = strawberry.field(description="The tier's key.")
    based_on: int | None = strawberry.field(
        default=None,
        description="The tier's newest version number, which this draft edits; null "
        "creates a new tier (then give its name and rank, and every term).",
    )
    name: str | None = None
    rank: int | None = None
    value_narrative: str | None = None
    currency: str | None = None
    monthly_price_cents: int | None = None
    annual_price_cents: int | None = None
    support_level: str | None = None
    support_first_response_hours: int | None = None
    support_channels: list[str] | None = None
    outcomes: list[TierOutcomeInput] | None = None
    limits: list[TierLimitInput] | None = None
    benefits: list[IncludedBenefitInput] | None = None
    exclusions: list[ExclusionInput] | None = None

    def to_model(self) -> TierDraft:
        return TierDraft(
            tier_key=self.tier,
            based_on=self.based_on,
            name=self.name,
            rank=self.rank,
            value_narrative=self.value_narrative,
            currency=self.currency,
            monthly_price_cents=self.monthly_price_cents,
            annual_price_cents=self.annual_price_cents,
            support_level=self.support_level,
            support_first_response_hours=self.support_first_response_hours,
            support_channels=None
            if self.support_channels is None
            else tuple(self.support_channels),
            outcomes=_outcomes(self.outcomes),
            limits=_limits(self.limits),
            benefits=_benefits(self.benefits),
            exclusions=_exclusions(self.exclusions),
        )


def _outcomes(given: list[TierOutcomeInput] | None) -> tuple[models.TierOutcome, ...] | None:
    if given is None:
        return None
    return tuple(models.TierOutcome(o.outcome, o.target) for o in given)


def _limits(given: list[TierLimitInput] | None) -> tuple[models.TierLimit, ...] | None:
    if given is None:
        return None
    return tuple(models.TierLimit(g.metric, g.enforcement.value, g.included) for g in given)


def _benefits(
    given: list[IncludedBenefitInput] | None,
) -> tuple[models.IncludedBenefit, ...] | None:
    if given is None:
        return None
    # Any JSON value passes here; build_draft refuses one that is not an object.
    return tuple(
        models.IncludedBenefit(
            b.benefit, cast(dict[str, Any], {} if b.parameters is None else b.parameters)
        )
        for b in given
    )


def _exclusions(given: list[ExclusionInput] | None) -> tuple[models.Exclusion, ...] | None:
    if given is None:
        return None
    return tuple(models.Exclusion(e.benefit, e.included_in, e.note) for e in given)


@strawberry.input(description="A new benefit catalog entry.")
class BenefitInput:
    key: str
    name: str
    kind: BenefitKind
    description: str = ""
    outcome: str | None = strawberry.field(default=None, description="The outcome it moves.")
    impact_amount: float | None = None
    impact_unit: str | None = strawberry.field(
        default=None, description='With `impactAmount`, e.g. "hours saved a week".'
    )
    metric: str | None = strawberry.field(
        default=None, description="For a limit benefit: the metric it raises."
    )
    introduced_on: date | None = strawberry.field(default=None, description="Default: today.")

    def to_model(self, today: date) -> models.Benefit:
        return models.Benefit(
            key=self.key,
            name=self.name,
            kind=self.kind.value,
            description=self.description,
            outcome_key=self.outcome,
            impact_amount=self.impact_amount,
            impact_unit=self.impact_unit,
            metric_key=self.metric,
            introduced_on=self.introduced_on or today,
            retired_on=None,
        )
