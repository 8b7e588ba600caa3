"""What a frontend may do to its own subscription, and what it would cost. Pure, no I/O.

Each action is the transition internal tools apply (`subscriptions.transitions`), behind
the policy's switch and the rules of self-service:
- a trial is of a higher tier, for the policy's days, once per account and tier;
- a tier change is a downgrade at the period's end (an upgrade is the suggestion's to make);
- cancelling a scheduled change needs the switch of each change scheduled;
- a cancellation is at the period's end, and only the `cancel` switch undoes it.
Nothing a frontend does is charged now: a trial is free and falls back at its end, and
every other action takes effect at the period's end or undoes one that would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from benefitgate.accounts.models import Subscription
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import Forbidden, InvalidChange
from benefitgate.common.text import quoted
from benefitgate.selfserve.models import Action, Policy, Request
from benefitgate.subscriptions import transitions
from benefitgate.subscriptions.lifecycle import next_step
from benefitgate.subscriptions.transitions import Transition

__all__ = ["Preview", "preview", "transition"]

_SWITCH = {
    Action.START_TRIAL: "trial",
    Action.SCHEDULE_DOWNGRADE: "downgrade",
    Action.SCHEDULE_TERM_CHANGE: "term",
    Action.CANCEL_AT_PERIOD_END: "cancel",
    Action.UNDO_CANCEL: "cancel",
}
_NOW = frozenset({Action.START_TRIAL, Action.CANCEL_SCHEDULED_CHANGE, Action.UNDO_CANCEL})
# The arguments each action takes (the preview takes both for all of them).
_TAKES = {
    Action.START_TRIAL: "tier",
    Action.SCHEDULE_DOWNGRADE: "tier",
    Action.SCHEDULE_TERM_CHANGE: "term",
}


def _require(policy: Policy, *switches: str) -> None:
    for switch in switches:
        if not policy.allows(switch):
            raise Forbidden(f"the vendor's self-serve policy does not allow {quoted(switch)}")


def _authorise(policy: Policy, request: Request, before: Subscription) -> None:
    """Refuse unless the policy turns on what the action changes on this subscription."""
    if request.action is not Action.CANCEL_SCHEDULED_CHANGE:
        return _require(policy, _SWITCH[request.action])
    scheduled = [
        switch
        for switch, pending in (
            ("downgrade", before.scheduled_tier_version_id is not None),
            ("term", before.scheduled_term is not None),
        )
        if pending
    ]
    if scheduled:
        return _require(policy, *scheduled)
    if not (policy.allows("downgrade") or policy.allows("term")):
        raise Forbidden("the vendor's self-serve policy allows no scheduled change")
    return None


def _unused(request: Request) -> None:
    """Refuse an argument the action does not take: the preview took a `term` with a
    downgrade and previewed the downgrade alone, as if the term were part of it."""
    for field, value in (("tier", request.tier), ("term", request.term)):
        if value is not None and _TAKES.get(request.action) != field:
            takes = _TAKES.get(request.action)
            also = f"; it takes the {takes}" if takes else ""
            raise InvalidChange(field, f"{request.action.name} takes no {field}{also}")


def _argument(value: str | None, field: str) -> str:
    if not value:
        raise InvalidChange(field, f"give the {field}")
    return value


def transition(
    policy: Policy,
    request: Request,
    before: Subscription,
    catalog: Catalog,
    now: datetime,
    tried: bool,
) -> Transition:
    """The change `request` makes to `before` at `now`, `tried` saying whether the account
    has had a trial of the requested tier. Raises Forbidden for what the policy or the
    rules above leave to internal tools, InvalidChange for what the subscription refuses."""
    _authorise(policy, request, before)
    _unused(request)
    match request.action:
        case Action.START_TRIAL:
            tier = _argument(request.tier, "tier")
            if tried:
                raise Forbidden(f"the account has had a trial of {quoted(tier)}")
            return transitions.trial_start(before, tier, policy.trial_days, catalog, now)
        case Action.SCHEDULE_DOWNGRADE:
            step = transitions.tier_change(before, _argument(request.tier, "tier"), catalog, now)
            if step.plan is not None and step.plan.upgrade:
                raise Forbidden("a frontend schedules downgrades; upgrades follow a suggestion")
            return step
        case Action.SCHEDULE_TERM_CHANGE:
            return transitions.term_change(before, _argument(request.term, "term"))
        case Action.CANCEL_SCHEDULED_CHANGE:
            return transitions.unschedule(before)
        case Action.CANCEL_AT_PERIOD_END:
            return transitions.cancellation(before, at_period_end=True)
        case Action.UNDO_CANCEL:
            return transitions.reactivation(before)


@dataclass(frozen=True, slots=True)
class Preview:
    action: Action
    effective_at: datetime
    after: Subscription  # as the action leaves it, at its next version
    next_period: Subscription | None  # as it stands in its next period; None: it ends


def preview(
    request: Request, before: Subscription, step: Transition, catalog: Catalog, now: datetime
) -> Preview:
    """What `step` (from `transition`) does: when, the subscription it leaves, and the
    next period that follows from it as the scheduler will apply it (a trial ending, then
    the renewal with what is scheduled, or the end of a canceled subscription)."""
    at = now if request.action in _NOW else before.current_period_end
    after = replace(step.after, version=before.version + 1)
    return Preview(request.action, at, after, _next_period(after, catalog))


def _next_period(sub: Subscription, catalog: Catalog) -> Subscription | None:
    end = sub.current_period_end
    while (step := next_step(sub, catalog, end)) is not None:
        sub = step.after
    return None if sub.status == "canceled" else sub
