"""GraphQL types of the self-serve policy and previews."""

from __future__ import annotations

from datetime import datetime

import strawberry

from benefitgate.accounts.models import Subscription as SubscriptionModel
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.types import CatalogTypes, Money, Tier, money
from benefitgate.selfserve.models import Action, Policy
from benefitgate.selfserve.rules import Preview
from benefitgate.subscriptions.lifecycle import paid_version
from benefitgate.subscriptions.proration import price_cents
from benefitgate.subscriptions.types import Subscription, Term, subscription_type

__all__ = ["SelfServePeriod", "SelfServePolicy", "SelfServePreview", "policy_type", "preview_type"]

strawberry.enum(
    Action, name="SelfServeAction", description="What a frontend may change on its own account."
)


@strawberry.type(
    description="What the vendor lets frontends do on their own account (each switch is off "
    "unless BENEFITGATE_SELF_SERVE names it)."
)
class SelfServePolicy:
    trial: bool = strawberry.field(description="Start a trial of a higher tier, once a tier.")
    downgrade: bool = strawberry.field(description="Schedule a downgrade for the period's end.")
    term: bool = strawberry.field(description="Schedule a term change for the period's end.")
    cancel: bool = strawberry.field(description="Cancel at the period's end, and undo it.")
    trial_days: int = strawberry.field(description="How long a self-serve trial lasts.")


@strawberry.type(description="A period of the subscription, priced per term.")
class SelfServePeriod:
    starts_at: datetime
    ends_at: datetime
    tier: Tier
    term: Term
    price: Money


@strawberry.type(description="What a self-serve action would do and cost, refused as it would be.")
class SelfServePreview:
    action: Action
    effective_at: datetime = strawberry.field(
        description="Now (a trial, an undo) or the end of the current period."
    )
    subscription: Subscription = strawberry.field(description="As the action would leave it.")
    current_price: Money = strawberry.field(
        description="Per term, what the subscription pays for now (in a trial, the tier it "
        "falls back to)."
    )
    next_period: SelfServePeriod | None = strawberry.field(
        description="The next period as the action would leave it (after a trial falls back, "
        "with the scheduled tier and term); null when the subscription ends instead."
    )


def policy_type(policy: Policy) -> SelfServePolicy:
    allows = policy.allows
    return SelfServePolicy(
        trial=allows("trial"),
        downgrade=allows("downgrade"),
        term=allows("term"),
        cancel=allows("cancel"),
        trial_days=policy.trial_days,
    )


def _money(sub: SubscriptionModel, catalog: Catalog) -> Money:
    """The price per term of what the subscription pays for: during a trial, the tier it
    falls back to (a trial is free)."""
    version = paid_version(sub, catalog)
    return money(price_cents(version, sub.term), version.currency)


def preview_type(
    preview: Preview, before: SubscriptionModel, catalog: Catalog, types: CatalogTypes
) -> SelfServePreview:
    nxt = preview.next_period
    period = None
    if nxt is not None:
        period = SelfServePeriod(
            starts_at=nxt.current_period_start,
            ends_at=nxt.current_period_end,
            tier=types.tiers[nxt.tier_version_id],
            term=Term(nxt.term),
            price=_money(nxt, catalog),
        )
    return SelfServePreview(
        action=preview.action,
        effective_at=preview.effective_at,
        subscription=subscription_type(preview.after, types),
        current_price=_money(before, catalog),
        next_period=period,
    )
