"""GraphQL types of upgrade suggestions, and of right-sizing and adoption recommendations."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from benefitgate.api.pagination import PageInfo
from benefitgate.catalog.types import Benefit, CatalogTypes, Money, Outcome, Tier, money
from benefitgate.suggestions import models, rightsizing

__all__ = [
    "Recommendation",
    "Suggestion",
    "SuggestionAccepted",
    "SuggestionConnection",
    "SuggestionDismissed",
    "SuggestionEdge",
    "recommendation_type",
    "suggestion_type",
]


@strawberry.enum
class SuggestionStatus(enum.Enum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"


@strawberry.enum
class SuggestionSignal(enum.Enum):
    LIMIT_PRESSURE = "limit_pressure"
    PROJECTED_OVERRUN = "projected_overrun"
    DENIED_FEATURE = "denied_feature"
    SEAT_PRESSURE = "seat_pressure"
    OUTCOME_LAGGING = "outcome_lagging"
    MILESTONE_REACHED = "milestone_reached"
    USAGE_FAR_BELOW = "usage_far_below"
    BENEFIT_UNUSED = "benefit_unused"


@strawberry.type(description="One signal behind a suggestion, with the evidence for it.")
class SuggestionReason:
    signal: SuggestionSignal
    subject: str = strawberry.field(
        description="The metric, feature, milestone or outcome the signal is about; "
        "`seats` for seat pressure."
    )
    message: str
    observed: float | None = strawberry.field(
        description="The peak or projected usage, the seats assigned, the denials counted, "
        "or the outcome's actual value."
    )
    limit: float | None = strawberry.field(description="The limit, seats or target it meets.")
    since: datetime | None
    until: datetime | None
    weight: float = strawberry.field(description="What this reason adds to the confidence.")


@strawberry.type(description="A benefit the suggested tier adds, and its expected impact.")
class OutcomeGain:
    benefit: Benefit
    outcome: Outcome | None
    expected_impact: float | None
    impact_unit: str | None


@strawberry.type(description="A higher tier recommended from the account's usage patterns.")
class Suggestion:
    id: strawberry.ID
    account_id: strawberry.ID
    tier: Tier = strawberry.field(description="The suggested tier, as computed.")
    from_tier: Tier = strawberry.field(description="The account's tier when computed.")
    status: SuggestionStatus
    confidence: float = strawberry.field(description="0 to 1: how strong the evidence is.")
    reasons: list[SuggestionReason]
    gains: list[OutcomeGain]
    monthly_price_delta: Money
    annual_price_delta: Money
    created_at: datetime
    evaluated_at: datetime = strawberry.field(description="When last recomputed.")
    decided_at: datetime | None
    dismiss_reason: str | None
    dismissed_until: datetime | None = strawberry.field(
        description="No new suggestion opens before then unless the evidence grows."
    )
    version: int


@strawberry.type
class SuggestionEdge:
    cursor: str
    node: Suggestion
    ranked_confidence: float = strawberry.field(
        description="The confidence the walk ranks the suggestion by: its confidence when "
        "the walk's first page was read."
    )


@strawberry.type
class SuggestionConnection:
    edges: list[SuggestionEdge]
    page_info: PageInfo


@strawberry.type
class SuggestionAccepted:
    suggestion: Suggestion
    audit_entry_id: strawberry.ID = strawberry.field(description="The tier change's entry.")
    amount_due: Money = strawberry.field(description="The prorated upgrade charge.")
    replayed: bool


@strawberry.type
class SuggestionDismissed:
    suggestion: Suggestion
    replayed: bool


def _reason(r: models.Reason) -> SuggestionReason:
    return SuggestionReason(
        signal=SuggestionSignal(r.signal),
        subject=r.subject,
        message=r.message,
        observed=r.observed,
        limit=r.limit,
        since=r.since,
        until=r.until,
        weight=r.weight,
    )


def _gain(g: models.Gain, types: CatalogTypes) -> OutcomeGain:
    return OutcomeGain(
        benefit=types.benefits[g.benefit_key],
        outcome=types.outcomes.get(g.outcome_key) if g.outcome_key else None,
        expected_impact=g.impact_amount,
        impact_unit=g.impact_unit,
    )


@strawberry.enum
class RecommendationKind(enum.Enum):
    DOWNGRADE = "downgrade"
    DOWNGRADE_WITH_ADDON = "downgrade_with_addon"
    ADDON = "addon"
    ADOPTION = "adoption"


@strawberry.type(
    description="A right-sizing or adoption recommendation, computed from the evidence now: "
    "a lower tier (with an add-on when one metric needs it), an add-on instead of a whole "
    "tier, or an included benefit left unused."
)
class Recommendation:
    kind: RecommendationKind
    tier: Tier | None = strawberry.field(description="The lower tier recommended.")
    benefit: Benefit | None = strawberry.field(
        description="The add-on recommended, or the included benefit to start using."
    )
    confidence: float = strawberry.field(description="0 to 1: how strong the evidence is.")
    reasons: list[SuggestionReason]
    gains: list[OutcomeGain] = strawberry.field(
        description="What the add-on or the unused benefit would move."
    )
    losses: list[OutcomeGain] = strawberry.field(
        description="Benefits the lower tier leaves out (none of them used lately)."
    )
    monthly_price_delta: Money | None = strawberry.field(
        description="A lower tier's saving (negative); add-ons are priced apart."
    )
    annual_price_delta: Money | None


def recommendation_type(r: rightsizing.Recommendation, types: CatalogTypes) -> Recommendation:
    tier, currency = r.tier, r.tier.currency if r.tier else ""
    return Recommendation(
        kind=RecommendationKind(r.kind),
        tier=None if tier is None else types.tiers[tier.id],
        benefit=None if r.benefit is None else types.benefits.get(r.benefit.key),
        confidence=r.confidence,
        reasons=[_reason(x) for x in r.reasons],
        gains=[_gain(g, types) for g in r.gains if g.benefit_key in types.benefits],
        losses=[_gain(g, types) for g in r.losses if g.benefit_key in types.benefits],
        monthly_price_delta=None
        if r.monthly_delta_cents is None
        else money(r.monthly_delta_cents, currency),
        annual_price_delta=None
        if r.annual_delta_cents is None
        else money(r.annual_delta_cents, currency),
    )


def suggestion_type(s: models.Suggestion, types: CatalogTypes) -> Suggestion:
    return Suggestion(
        id=strawberry.ID(str(s.id)),
        account_id=strawberry.ID(str(s.account_id)),
        tier=types.tiers[s.tier_version_id],
        from_tier=types.tiers[s.from_tier_version_id],
        status=SuggestionStatus(s.status),
        confidence=s.confidence,
        reasons=[_reason(r) for r in s.reasons],
        gains=[_gain(g, types) for g in s.gains if g.benefit_key in types.benefits],
        monthly_price_delta=money(s.monthly_delta_cents, s.currency),
        annual_price_delta=money(s.annual_delta_cents, s.currency),
        created_at=s.created_at,
        evaluated_at=s.evaluated_at,
        decided_at=s.decided_at,
        dismiss_reason=s.dismiss_reason,
        dismissed_until=s.dismissed_until,
        version=s.version,
    )
