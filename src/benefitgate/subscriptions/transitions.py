"""What each decided change does to a subscription: the checks it must pass and the state
it leaves. Pure, no I/O. The services lock the row, apply one of these, then save and
record the result (`service.apply`); self-serve previews apply the same ones to a read.

Each raises InvalidChange, naming the field, when the subscription does not allow it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from benefitgate.accounts.models import Subscription
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.common.changes import InvalidChange
from benefitgate.common.text import quoted
from benefitgate.subscriptions.proration import TierChangePlan, plan_tier_change

__all__ = [
    "MAX_TRIAL_DAYS",
    "Transition",
    "cancellation",
    "reactivation",
    "term_change",
    "tier_change",
    "tier_plan",
    "trial_start",
    "unschedule",
]

MAX_TRIAL_DAYS = 90


@dataclass(frozen=True, slots=True)
class Transition:
    action: str  # the audit action and the event's `action`
    after: Subscription  # before it is saved (the version is bumped then)
    plan: TierChangePlan | None = None  # a tier change's price


def tier_plan(sub: Subscription, tier_key: str, catalog: Catalog, now: datetime) -> TierChangePlan:
    if sub.status == "canceled":
        raise InvalidChange("accountId", "the subscription is canceled")
    if sub.status == "trialing":
        raise InvalidChange("accountId", "the subscription is in a trial: say whether it converts")
    target = catalog.current(tier_key, now)
    if target is None:
        raise InvalidChange("tier", f"no tier {quoted(tier_key)} is published now")
    current = catalog.versions[sub.tier_version_id]
    period = (sub.current_period_start, sub.current_period_end)
    return plan_tier_change(current, target, sub.term, period, now)


def _with_change_time(sub: Subscription) -> Subscription:
    """Scheduled changes take effect together, at the end of the current period."""
    pending = sub.scheduled_tier_version_id is not None or sub.scheduled_term is not None
    return replace(sub, scheduled_change_at=sub.current_period_end if pending else None)


def tier_change(before: Subscription, tier_key: str, catalog: Catalog, now: datetime) -> Transition:
    """An upgrade now, or a downgrade scheduled for the end of the period (replacing any
    scheduled tier change)."""
    plan = tier_plan(before, tier_key, catalog, now)
    if plan.upgrade:
        wanted = replace(before, tier_version_id=plan.target.id, scheduled_tier_version_id=None)
        action = "subscription.upgraded"
    else:
        wanted = replace(before, scheduled_tier_version_id=plan.target.id)
        action = "subscription.downgrade_scheduled"
    return Transition(action, _with_change_time(wanted), plan)


def term_change(before: Subscription, term: str) -> Transition:
    """A move to `term` at the end of the period, beside any scheduled tier change; the
    current term drops a scheduled term change."""
    if before.status == "canceled":
        raise InvalidChange("accountId", "the subscription is canceled")
    if term == before.term and before.scheduled_term is None:
        raise InvalidChange("term", f"the subscription is already {term}")
    scheduled = None if term == before.term else term
    wanted = _with_change_time(replace(before, scheduled_term=scheduled))
    return Transition("subscription.term_scheduled", wanted)


def unschedule(before: Subscription) -> Transition:
    """The scheduled downgrade and term change dropped."""
    if before.scheduled_change_at is None:
        raise InvalidChange("accountId", "no change is scheduled")
    wanted = replace(before, scheduled_tier_version_id=None, scheduled_term=None)
    return Transition("subscription.scheduled_change_canceled", _with_change_time(wanted))


def _trial_tier(catalog: Catalog, current_id: int, tier_key: str, now: datetime) -> TierVersion:
    target = catalog.current(tier_key, now)
    if target is None:
        raise InvalidChange("tier", f"no tier {quoted(tier_key)} is published now")
    if target.rank <= catalog.versions[current_id].rank:
        raise InvalidChange("tier", "a trial is of a tier above the account's")
    return target


def trial_start(
    before: Subscription, tier_key: str, days: int, catalog: Catalog, now: datetime
) -> Transition:
    """An active subscription on `tier_key` for `days` days, falling back at the end."""
    if not 1 <= days <= MAX_TRIAL_DAYS:
        raise InvalidChange("days", f"a trial lasts 1 to {MAX_TRIAL_DAYS} days")
    if before.status != "active":
        raise InvalidChange(
            "accountId", f"only an active subscription can start a trial, not a {before.status} one"
        )
    if before.scheduled_change_at is not None:
        raise InvalidChange("accountId", "cancel the scheduled change before starting a trial")
    target = _trial_tier(catalog, before.tier_version_id, tier_key, now)
    wanted = replace(
        before,
        tier_version_id=target.id,
        status="trialing",
        trial_ends_at=now + timedelta(days=days),
        trial_fallback_tier_version_id=before.tier_version_id,
        trial_converts=False,
    )
    return Transition("subscription.trial_started", wanted)


def cancellation(before: Subscription, at_period_end: bool) -> Transition:
    """Canceled now, or at the end of the current period; a scheduled tier or term change
    is dropped with it."""
    if before.status == "canceled":
        raise InvalidChange("accountId", "the subscription is canceled already")
    unscheduled = replace(
        before, scheduled_tier_version_id=None, scheduled_change_at=None, scheduled_term=None
    )
    if at_period_end:
        wanted = replace(unscheduled, cancel_at_period_end=True)
        return Transition("subscription.cancel_scheduled", wanted)
    wanted = replace(
        unscheduled, status="canceled", cancel_at_period_end=False, trial_ends_at=None,
        trial_fallback_tier_version_id=None, trial_converts=False,
    )  # fmt: skip
    return Transition("subscription.canceled", wanted)


def reactivation(before: Subscription) -> Transition:
    """A cancellation scheduled for the period's end undone."""
    if not before.cancel_at_period_end:
        raise InvalidChange("accountId", "no cancellation is scheduled")
    return Transition("subscription.reactivated", replace(before, cancel_at_period_end=False))
