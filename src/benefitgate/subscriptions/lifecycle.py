"""What happens to a subscription when time passes: its trial ends, its period renews.
Pure, no I/O.

Policy:
- A trial ends at `trial_ends_at`: the subscription becomes active and either keeps the
  trial's tier (it converts, and the price difference for the rest of the period falls
  due) or returns to the tier version it held before the trial.
- A period renews at its end: the next period starts where it ended, for the term
  scheduled (or the same one), and on the tier scheduled (or the same one). The tier moves
  to its version in force at the renewal: a grandfathered version lasts until renewal.
- Each transition is one step; a subscription that missed several (the service was down)
  catches up one step at a time, in order.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from benefitgate.accounts.models import Subscription
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.subscriptions.proration import plan_tier_change, price_cents

__all__ = ["TIME_DRIVEN", "Step", "next_step", "period_end_after", "renewal"]

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
    if sub.status == "canceled":
        return None
    trial_end = sub.trial_ends_at
    if trial_end is not None and trial_end <= now and trial_end <= sub.current_period_end:
        return _end_trial(sub, trial_end, catalog)
    if sub.current_period_end <= now:
        return _end(sub) if sub.cancel_at_period_end else renewal(sub, catalog)
    return None


def _end(sub: Subscription) -> Step:
    """A cancellation at the period's end taking effect: the subscription stays as it was
    in its last period, canceled."""
    ended = replace(
        sub,
        status="canceled",
        cancel_at_period_end=False,
        scheduled_tier_version_id=None,
        scheduled_change_at=None,
        scheduled_term=None,
        trial_ends_at=None,
        trial_fallback_tier_version_id=None,
        trial_converts=False,
    )
    return Step("subscription.ended", sub.current_period_end, ended, {})


def _end_trial(sub: Subscription, at: datetime, catalog: Catalog) -> Step:
    fallback = sub.trial_fallback_tier_version_id
    assert fallback is not None  # the database keeps a trial's fallback with its end
    ended = replace(
        sub,
        status="active",
        trial_ends_at=None,
        trial_fallback_tier_version_id=None,
        trial_converts=False,
    )
    if not sub.trial_converts:
        return Step("subscription.trial_ended", at, replace(ended, tier_version_id=fallback), {})
    trial, before = catalog.versions[sub.tier_version_id], catalog.versions[fallback]
    return Step("subscription.trial_converted", at, ended, _conversion(before, trial, sub, at))


def _conversion(
    before: TierVersion, trial: TierVersion, sub: Subscription, at: datetime
) -> dict[str, Any]:
    """What converting costs: the rest of the period at the trial tier's price, less what
    the tier before it already covers (the same rule as an upgrade at `at`)."""
    due = 0
    if before.tier_key != trial.tier_key:
        period = (sub.current_period_start, sub.current_period_end)
        plan = plan_tier_change(before, trial, sub.term, period, at)
        due = plan.amount_due_cents
    return {"amountDueCents": due, "currency": trial.currency}


def renewal(sub: Subscription, catalog: Catalog) -> Step:
    """The renewal at the end of the current period, as it stands now."""
    at = sub.current_period_end
    term = sub.scheduled_term or sub.term
    pinned = catalog.versions[sub.scheduled_tier_version_id or sub.tier_version_id]
    version = catalog.current(pinned.tier_key, at) or pinned
    end = period_end_after(at, term, sub.started_at)
    after = replace(
        sub,
        tier_version_id=version.id,
        term=term,
        current_period_start=at,
        current_period_end=end,
        renewal_date=end.date(),
        scheduled_tier_version_id=None,
        scheduled_change_at=None,
        scheduled_term=None,
    )
    details = {
        "priceCents": price_cents(version, term),
        "currency": version.currency,
        "previousTierVersionId": sub.tier_version_id,
    }
    return Step("subscription.renewed", at, after, details)


def period_end_after(start: datetime, term: str, anchor: datetime) -> datetime:
    """The end of a period of `term` starting at `start`, on the anchor's day of the month
    where that month has it (so a subscription started on the 31st renews on the last day
    of shorter months and returns to the 31st, instead of drifting to the 28th).

    Months and days are counted in UTC, whatever offset `start` and `anchor` carry: the
    same instant gives the same period however it was written, and renewals (which start
    from the stored, UTC, period end) step the same way as the first period."""
    start, anchor = start.astimezone(UTC), anchor.astimezone(UTC)
    months = start.month - 1 + (12 if term == "annual" else 1)
    year, month = start.year + months // 12, months % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
