"""GraphQL types of tier changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from benefitgate.catalog.types import CatalogTypes, Money, Tier
from benefitgate.views.types import Subscription

__all__ = ["SubscriptionChanged", "TierChangePreview", "preview_type"]


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
        amount_due=Money(amount_cents=plan["amountDueCents"], currency=plan["currency"]),
        new_price=Money(amount_cents=plan["newPriceCents"], currency=plan["currency"]),
    )
