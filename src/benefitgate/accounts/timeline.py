"""What time alone does to a subscription: its trial ends, its period renews or ends.
Pure, no I/O.

Every answer reads a subscription as it stands at its instant (`as_of`): a trial past its
end is over and a period past its end has renewed or ended, whether or not the scheduler
has written the step yet. The scheduler (`subscriptions.due`) only persists these same
steps (with their audit entries, events and prices, `subscriptions.lifecycle`), so an
answer changes at the instant itself, on every replica alike, never at the next tick.

Policy:
- A trial ends at `trial_ends_at`: the subscription becomes active and either keeps the
  trial's tier (it converts) or returns to the tier version it held before the trial.
- A period ends at `current_period_end`: a subscription set to cancel then ends;
  otherwise it renews, the next period starting where it ended, for the term scheduled
  (or the same one) and on the tier scheduled (or the same one), in its version in force
  at the renewal (a grandfathered version lasts until renewal). A trial still running
  then runs on, and the tier it falls back to moves to its version in force too.
- A trial ending at or before the period's end ends first. A subscription that missed
  several steps catches up one step at a time, in order.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from benefitgate.accounts.models import Account, Subscription
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.usage.periods import Ended

__all__ = [
    "Due",
    "account_as_of",
    "as_of",
    "changes_at",
    "due",
    "ended",
    "in_force",
    "may_be_due",
    "period_end_after",
    "renewed",
    "steps_until",
    "trial_ended",
]

# However long a subscription went without its steps written, reading it stays bounded: a
# monthly one this far behind has been untouched for more than eight decades.
_MAX_STEPS = 1000


@dataclass(frozen=True, slots=True)
class Due:
    action: str  # the audit action of the step: subscription.trial_ended, ...
    at: datetime  # when it takes effect
    after: Subscription


def may_be_due(sub: Subscription, now: datetime) -> bool:
    """Whether a step may be due by `now` (`due` says which, with the catalog)."""
    if sub.status == "canceled":
        return False
    trial_end = sub.trial_ends_at
    return sub.current_period_end <= now or (trial_end is not None and trial_end <= now)


def due(sub: Subscription, catalog: Catalog, now: datetime) -> Due | None:
    """The earliest step due by `now`, or None when the subscription is current."""
    if sub.status == "canceled":
        return None
    trial_end = sub.trial_ends_at
    if trial_end is not None and trial_end <= now and trial_end <= sub.current_period_end:
        converts = sub.trial_converts
        action = "subscription.trial_converted" if converts else "subscription.trial_ended"
        return Due(action, trial_end, trial_ended(sub))
    if sub.current_period_end <= now:
        if sub.cancel_at_period_end:
            return Due("subscription.ended", sub.current_period_end, ended(sub))
        return Due("subscription.renewed", sub.current_period_end, renewed(sub, catalog))
    return None


def steps_until(sub: Subscription, catalog: Catalog, now: datetime) -> list[Due]:
    """Every step due by `now`, in order, each from the state the one before left."""
    found: list[Due] = []
    while len(found) < _MAX_STEPS and (step := due(sub, catalog, now)) is not None:
        found.append(step)
        sub = step.after
    return found


def as_of(sub: Subscription, catalog: Catalog, now: datetime) -> Subscription:
    """The subscription as it stands at `now`: `sub` itself when no step is due."""
    found = steps_until(sub, catalog, now)
    return found[-1].after if found else sub


def account_as_of(account: Account, catalog: Catalog, now: datetime) -> Account:
    """The account with its subscription as it stands at `now` (itself when current)."""
    sub = account.subscription
    if sub is None:
        return account
    current = as_of(sub, catalog, now)
    return account if current is sub else replace(account, subscription=current)


def changes_at(sub: Subscription) -> datetime | None:
    """The next instant a step falls due (None: never, it is canceled)."""
    if sub.status == "canceled":
        return None
    trial_end = sub.trial_ends_at
    if trial_end is not None and trial_end <= sub.current_period_end:
        return trial_end
    return sub.current_period_end


def trial_ended(sub: Subscription) -> Subscription:
    fallback = sub.trial_fallback_tier_version_id
    assert fallback is not None  # the database keeps a trial's fallback with its end
    ended_trial = replace(
        sub,
        status="active",
        trial_ends_at=None,
        trial_fallback_tier_version_id=None,
        trial_converts=False,
    )
    return ended_trial if sub.trial_converts else replace(ended_trial, tier_version_id=fallback)


def ended(sub: Subscription) -> Subscription:
    """A cancellation at the period's end taking effect: the subscription stays as it was
    in its last period, canceled."""
    return replace(
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


def in_force(catalog: Catalog, version_id: int, at: datetime) -> TierVersion:
    """The version of the tier of `version_id` in force at `at` (itself when none is)."""
    pinned = catalog.versions[version_id]
    return catalog.current(pinned.tier_key, at) or pinned


def renewed(sub: Subscription, catalog: Catalog) -> Subscription:
    """The subscription after the renewal at the end of its current period."""
    at = sub.current_period_end
    term = sub.scheduled_term or sub.term
    version = in_force(catalog, sub.scheduled_tier_version_id or sub.tier_version_id, at)
    fallback = sub.trial_fallback_tier_version_id
    end = period_end_after(at, term, sub.started_at)
    return replace(
        sub,
        tier_version_id=version.id,
        term=term,
        current_period_start=at,
        current_period_end=end,
        renewal_date=end.date(),
        scheduled_tier_version_id=None,
        scheduled_change_at=None,
        scheduled_term=None,
        trial_fallback_tier_version_id=(
            None if fallback is None else in_force(catalog, fallback, at).id
        ),
        ended=(*sub.ended, Ended(sub.current_period_start, at, sub.term)),
    )


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
