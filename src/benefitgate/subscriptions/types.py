"""GraphQL types of subscriptions, their renewal, and tier changes."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import strawberry

from benefitgate.accounts import models
from benefitgate.catalog.diff import diff_versions
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.types import CatalogTypes, Money, Tier, money
from benefitgate.catalog.version_types import TierVersionDiff, diff_type
from benefitgate.clock import days_until
from benefitgate.subscriptions.lifecycle import coming_renewal, paid_version
from benefitgate.subscriptions.proration import price_cents

__all__ = [
    "Renewal",
    "Subscription",
    "SubscriptionChanged",
    "SubscriptionStatus",
    "Term",
    "TierChangePreview",
    "preview_type",
    "renewal_type",
    "subscription_type",
]


@strawberry.enum
class SubscriptionStatus(enum.Enum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


@strawberry.enum
class Term(enum.Enum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


@strawberry.type
class Subscription:
    id: strawberry.ID
    tier: Tier = strawberry.field(description="The tier version the subscription pins.")
    status: SubscriptionStatus
    term: Term
    seats: int
    current_period_start: datetime
    current_period_end: datetime
    renewal_date: date
    scheduled_tier: Tier | None
    scheduled_term: Term | None
    scheduled_change_at: datetime | None = strawberry.field(
        description="When the scheduled tier and term changes take effect: the period's end."
    )
    trial_ends_at: datetime | None
    trial_fallback_tier: Tier | None = strawberry.field(
        description="The tier the trial returns to at its end unless it converts."
    )
    trial_converts: bool = strawberry.field(description="Whether the trial keeps its tier.")
    cancel_at_period_end: bool = strawberry.field(
        description="Ends at `currentPeriodEnd` instead of renewing (`subscriptionReactivate` "
        "undoes it until then)."
    )
    version: int


@strawberry.type(description="The next renewal, as the subscription stands now.")
class Renewal:
    renews_at: datetime
    renewal_date: date
    days_left: int = strawberry.field(
        description="Calendar days (UTC) from today to the renewal's date: 9 on 7 December "
        "for a renewal on 16 December, at any hour; 0 on the day."
    )
    term: Term = strawberry.field(description="The term from the renewal on.")
    tier: Tier = strawberry.field(
        description="The tier version from the renewal on: the scheduled tier, or the one "
        "held then (after a trial ending first has fallen back or converted), in its "
        "version in force at the renewal."
    )
    price: Money = strawberry.field(
        description="Per term, from the renewal on (while a trial runs on, the price of "
        "the tier it falls back to: a trial is free)."
    )
    current_price: Money = strawberry.field(
        description="Per term, until the renewal: during a trial, the price of the tier it "
        "falls back to."
    )
    grandfathered: bool = strawberry.field(
        description="True while the subscription pins an older version of its tier than "
        "the one in force; the renewal moves it."
    )
    changes_scheduled: bool = strawberry.field(
        description="A tier or term change takes effect at the renewal."
    )
    changes: TierVersionDiff | None = strawberry.field(
        description="What changes at the renewal, when it moves to another tier version "
        "than the one held just before it: "
        "benefits, limits, exclusions, prices, support."
    )


def renewal_type(
    sub: models.Subscription | None, catalog: Catalog, types: CatalogTypes, now: datetime
) -> Renewal | None:
    if sub is None or sub.status == "canceled" or sub.cancel_at_period_end:
        return None  # no renewal is coming
    before, step = coming_renewal(sub, catalog)  # a trial ending first has ended then
    after = step.after
    pinned = catalog.versions[sub.tier_version_id]
    in_force = catalog.current(pinned.tier_key, now)
    held = catalog.versions[before.tier_version_id]
    onto = catalog.versions[after.tier_version_id]
    changes = None
    if onto.id != held.id:
        statuses = (catalog.status(held, now), catalog.status(onto, now))
        changes = diff_type(diff_versions(held, onto), statuses, types)
    paid = paid_version(sub, catalog)
    return Renewal(
        renews_at=step.at,
        renewal_date=sub.renewal_date,
        days_left=days_until(step.at, now),
        term=Term(after.term),
        tier=types.tiers[after.tier_version_id],
        price=money(step.details["priceCents"], step.details["currency"]),
        current_price=money(price_cents(paid, sub.term), paid.currency),
        grandfathered=in_force is not None and in_force.id != pinned.id,
        changes_scheduled=sub.scheduled_change_at is not None,
        changes=changes,
    )


@strawberry.type(description="What a tier change does and costs, priced for the account's term.")
class TierChangePreview:
    tier: Tier
    upgrade: bool = strawberry.field(
        description="True: takes effect now. False: a downgrade at the end of the period."
    )
    effective_at: datetime
    amount_due: Money = strawberry.field(
        description="Due now: the price difference for the unused share of the period."
    )
    new_price: Money = strawberry.field(description="The price per term from the change on.")


@strawberry.type
class SubscriptionChanged:
    subscription: Subscription = strawberry.field(description="As this change left it.")
    change: TierChangePreview | None = strawberry.field(
        description="The tier change made; null for a cancellation."
    )
    audit_entry_id: strawberry.ID
    replayed: bool


def preview_type(plan: dict[str, Any], types: CatalogTypes) -> TierChangePreview:
    """From `service.plan_json`, the form stored with an idempotency key."""
    return TierChangePreview(
        tier=types.tiers[plan["tierVersionId"]],
        upgrade=plan["upgrade"],
        effective_at=datetime.fromisoformat(plan["effectiveAt"]),
        amount_due=money(plan["amountDueCents"], plan["currency"]),
        new_price=money(plan["newPriceCents"], plan["currency"]),
    )


def subscription_type(sub: models.Subscription, types: CatalogTypes) -> Subscription:
    scheduled, fallback = sub.scheduled_tier_version_id, sub.trial_fallback_tier_version_id
    return Subscription(
        id=strawberry.ID(str(sub.id)),
        tier=types.tiers[sub.tier_version_id],
        status=SubscriptionStatus(sub.status),
        term=Term(sub.term),
        seats=sub.seats,
        current_period_start=sub.current_period_start,
        current_period_end=sub.current_period_end,
        renewal_date=sub.renewal_date,
        scheduled_tier=types.tiers.get(scheduled) if scheduled is not None else None,
        scheduled_term=Term(sub.scheduled_term) if sub.scheduled_term else None,
        scheduled_change_at=sub.scheduled_change_at,
        trial_ends_at=sub.trial_ends_at,
        trial_fallback_tier=types.tiers.get(fallback) if fallback is not None else None,
        trial_converts=sub.trial_converts,
        cancel_at_period_end=sub.cancel_at_period_end,
        version=sub.version,
    )
