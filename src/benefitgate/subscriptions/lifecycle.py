"""What happens to a subscription when time passes, with what each step costs: the steps
themselves (when a trial ends, a period renews or ends, and the state each leaves) are
`accounts.timeline`'s, which every read applies too; here they gain the details the
scheduler records with them (a conversion's amount due, a renewal's price). Pure, no I/O.

Prices: a trial is free, so during one the subscription pays for the tier it falls back
to (`paid_version`), and a renewal while a trial runs on is priced for that tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from benefitgate.accounts import timeline
from benefitgate.accounts.models import Subscription
from benefitgate.accounts.timeline import period_end_after
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.subscriptions.proration import plan_tier_change, price_cents

__all__ = [
    "TIME_DRIVEN",
    "Step",
    "coming_renewal",
    "next_step",
    "paid_version",
    "period_end_after",
    "renewal",
]

# The actions of the steps below. They follow from time, not from a decision, so they are
# not rolled back: an operator changes the subscription instead.
TIME_DRIVEN = frozenset(
    {
        "subscription.renewed",
        "subscription.trial_ended",
        "subscription.trial_converted",
        "subscription.ended",
    }
)


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    at: datetime  # when the transition took effect
    after: Subscription
    details: dict[str, Any]


def next_step(sub: Subscription, catalog: Catalog, now: datetime) -> Step | None:
    """The earliest transition due by `now`, or None when the subscription is current."""
    found = timeline.due(sub, catalog, now)
    if found is None:
        return None
    if found.action == "subscription.renewed":
        return renewal(sub, catalog)
    details: dict[str, Any] = {}
    if found.action == "subscription.trial_converted":
        details = _conversion(sub, found.at, catalog)
    return Step(found.action, found.at, found.after, details)


def _conversion(sub: Subscription, at: datetime, catalog: Catalog) -> dict[str, Any]:
    """What converting costs: the rest of the period at the trial tier's price, less what
    the tier before it already covers (the same rule as an upgrade at `at`)."""
    fallback = sub.trial_fallback_tier_version_id
    assert fallback is not None  # the database keeps a trial's fallback with its end
    trial, before = catalog.versions[sub.tier_version_id], catalog.versions[fallback]
    due = 0
    if before.tier_key != trial.tier_key:
        period = (sub.current_period_start, sub.current_period_end)
        due = plan_tier_change(before, trial, sub.term, period, at).amount_due_cents
    return {"amountDueCents": due, "currency": trial.currency}


def paid_version(sub: Subscription, catalog: Catalog) -> TierVersion:
    """The tier version the subscription pays for: during a trial (which is free), the one
    it falls back to."""
    return catalog.versions[sub.trial_fallback_tier_version_id or sub.tier_version_id]


def renewal(sub: Subscription, catalog: Catalog) -> Step:
    """The renewal at the end of the current period, from `sub` as it stands then (see
    `coming_renewal` for one read before a trial ending first has ended)."""
    after = timeline.renewed(sub, catalog)
    paid = paid_version(after, catalog)
    details = {
        "priceCents": price_cents(paid, after.term),
        "currency": paid.currency,
        "previousTierVersionId": sub.tier_version_id,
    }
    return Step("subscription.renewed", sub.current_period_end, after, details)


def coming_renewal(sub: Subscription, catalog: Catalog) -> tuple[Subscription, Step]:
    """The renewal at the end of the current period as the subscription will reach it,
    with the subscription as it stands just before: a trial ending by then has ended
    (fallen back, or converted), a trial running on runs on. For a subscription that
    renews (not canceled, not set to end)."""
    trial_end = sub.trial_ends_at
    before = sub
    if trial_end is not None and trial_end <= sub.current_period_end:
        before = timeline.trial_ended(sub)
    return before, renewal(before, catalog)
