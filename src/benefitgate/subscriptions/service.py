"""Tier changes for internal tools: upgrade now, downgrade at the end of the period (and
cancel that), preview the price, and restore a state for a rollback. Each change writes
its audit entry and a `subscription.changed` event in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from functools import partial
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.accounts import timeline
from benefitgate.accounts.models import Subscription
from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.audit.rollback import refuse_if_changed_since
from benefitgate.catalog import service as catalogs
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound, expect_version
from benefitgate.common.isotime import from_iso, to_iso
from benefitgate.events import outbox as events
from benefitgate.subscriptions import repository, transitions
from benefitgate.subscriptions.lifecycle import TIME_DRIVEN, next_step
from benefitgate.subscriptions.proration import TierChangePlan
from benefitgate.subscriptions.transitions import Transition

__all__ = [
    "MAX_STEPS",
    "SCHEDULER",
    "apply",
    "cancel_scheduled_change",
    "catch_up",
    "change_term",
    "change_tier",
    "from_snapshot",
    "lock_as_of",
    "lock_at_version",
    "lock_subscription",
    "plan_json",
    "preview_tier_change",
    "record_change",
    "restore_subscription",
    "rollback_target",
    "set_seats",
    "snapshot",
]

EVENT = "subscription.changed"
KIND = "subscription"


def snapshot(sub: Subscription, account_id: UUID) -> dict[str, Any]:
    return {
        "id": str(sub.id),
        "accountId": str(account_id),
        "tierVersionId": sub.tier_version_id,
        "term": sub.term,
        "seats": sub.seats,
        "status": sub.status,
        "currentPeriodStart": sub.current_period_start.isoformat(),
        "currentPeriodEnd": sub.current_period_end.isoformat(),
        "renewalDate": sub.renewal_date.isoformat(),
        "scheduledTierVersionId": sub.scheduled_tier_version_id,
        "scheduledChangeAt": to_iso(sub.scheduled_change_at),
        "startedAt": sub.started_at.isoformat(),
        "version": sub.version,
        "scheduledTerm": sub.scheduled_term,
        "trialEndsAt": to_iso(sub.trial_ends_at),
        "trialFallbackTierVersionId": sub.trial_fallback_tier_version_id,
        "trialConverts": sub.trial_converts,
        "cancelAtPeriodEnd": sub.cancel_at_period_end,
    }


def from_snapshot(state: dict[str, Any]) -> Subscription:
    """The subscription an audit snapshot recorded."""
    return Subscription(
        id=UUID(state["id"]),
        tier_version_id=state["tierVersionId"],
        term=state["term"],
        seats=state["seats"],
        status=state["status"],
        current_period_start=datetime.fromisoformat(state["currentPeriodStart"]),
        current_period_end=datetime.fromisoformat(state["currentPeriodEnd"]),
        renewal_date=date.fromisoformat(state["renewalDate"]),
        scheduled_tier_version_id=state["scheduledTierVersionId"],
        scheduled_change_at=from_iso(state["scheduledChangeAt"]),
        started_at=datetime.fromisoformat(state["startedAt"]),
        version=state["version"],
        # Entries written before terms and trials could change lack these keys.
        scheduled_term=state.get("scheduledTerm"),
        trial_ends_at=from_iso(state.get("trialEndsAt")),
        trial_fallback_tier_version_id=state.get("trialFallbackTierVersionId"),
        trial_converts=state.get("trialConverts", False),
        cancel_at_period_end=state.get("cancelAtPeriodEnd", False),
    )


def plan_json(plan: TierChangePlan) -> dict[str, Any]:
    return {
        "tier": plan.target.tier_key,
        "tierVersionId": plan.target.id,
        "upgrade": plan.upgrade,
        "effectiveAt": plan.effective_at.isoformat(),
        "amountDueCents": plan.amount_due_cents,
        "newPriceCents": plan.new_price_cents,
        "currency": plan.currency,
    }


def preview_tier_change(
    sub: Subscription, tier_key: str, catalog: Catalog, now: datetime
) -> TierChangePlan:
    """What `change_tier` would do now, without doing it. Raises InvalidChange."""
    return transitions.tier_plan(sub, tier_key, catalog, now)


async def lock_subscription(conn: asyncpg.Connection, account_id: UUID) -> Subscription:
    sub = await repository.lock(conn, account_id)
    if sub is None:
        raise TargetNotFound("subscription")
    return sub


async def lock_as_of(conn: asyncpg.Connection, account_id: UUID, at: datetime) -> Subscription:
    """The account's subscription, locked, as it stands at `at`: the steps due by then
    written first (`catch_up`), as `lock_at_version` does, for a change whose caller
    names no version. What it checks against the row (its tier, its period) is then what
    every answer showed, renewals not yet written included. Raises TargetNotFound."""
    return await catch_up(conn, account_id, await lock_subscription(conn, account_id), at)


async def lock_at_version(
    conn: asyncpg.Connection, account_id: UUID, expected: int, at: datetime
) -> Subscription:
    """The account's subscription, locked, if it is still at version `expected`, as it
    stands at `at`: the steps time made due by then (a trial's end, a renewal, an end) are
    written first, as the scheduler would write them. Every answer reads a subscription
    so (`accounts.timeline`); a change made to the row as stored would start from a state
    no answer showed (reactivating a subscription that had ended, prorating an upgrade
    over a period that had passed). `expected` is the version the caller read, which
    those steps had not moved. Raises TargetNotFound or VersionConflict."""
    sub = await lock_subscription(conn, account_id)
    expect_version(expected, sub.version)
    return await catch_up(conn, account_id, sub, at)


SCHEDULER = "scheduler"  # the actor of the steps time makes, whoever writes them
# A monthly subscription missing this many renewals has been down for decades: stop and
# leave the rest for the next run rather than hold one transaction open indefinitely.
MAX_STEPS = 120
_REASONS = {
    "subscription.renewed": "the period ended",
    "subscription.trial_ended": "the trial ended without converting",
    "subscription.trial_converted": "the trial ended and converted",
    "subscription.ended": "canceled at the end of its period",
}


async def catch_up(
    conn: asyncpg.Connection,
    account_id: UUID,
    sub: Subscription,
    at: datetime,
    catalog: Catalog | None = None,
) -> Subscription:
    """`sub` (locked) with every step due by `at` written, each with its audit entry by
    the scheduler and its event; the catalog is read only when a step is due."""
    if not timeline.may_be_due(sub, at):
        return sub
    catalog = catalog or await catalogs.as_read(conn)
    steps = 0
    while steps < MAX_STEPS and (step := next_step(sub, catalog, at)) is not None:
        change = ChangeContext(SCHEDULER, _REASONS[step.action], None, at)
        after = await repository.save(conn, step.after)
        details = {"effectiveAt": step.at.isoformat(), **step.details}
        await record_change(conn, change, step.action, account_id, (sub, after), details)
        sub, steps = after, steps + 1
    return sub


async def record_change(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    account_id: UUID,
    states: tuple[Subscription, Subscription],
    details: dict[str, Any] | None = None,
    rollback_of: int | None = None,
) -> AuditEntry:
    before, after = (snapshot(s, account_id) for s in states)
    target = Target(KIND, str(states[1].id), account_id)
    entry = await audit.record(conn, change, action, target, before, after, rollback_of)
    payload = {"action": action, "auditEntryId": entry.id, "subscription": after}
    await events.enqueue(conn, EVENT, account_id, {**payload, **(details or {})})
    return entry


async def apply(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    expected_version: int,
    transition: Callable[[Subscription], Transition],
) -> tuple[Transition, AuditEntry]:
    """Lock the account's subscription at `expected_version`, apply `transition` to it,
    save and record the result. Raises TargetNotFound, VersionConflict, and what the
    transition raises (InvalidChange, or a caller's own refusal)."""
    before = await lock_at_version(conn, account_id, expected_version, change.at)
    step = transition(before)
    after = await repository.save(conn, step.after)
    details = None if step.plan is None else {"change": plan_json(step.plan)}
    entry = await record_change(conn, change, step.action, account_id, (before, after), details)
    return step, entry


async def change_tier(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    tier_key: str,
    expected_version: int,
    catalog: Catalog,
) -> tuple[TierChangePlan, AuditEntry]:
    """Upgrade now, or schedule a downgrade for the end of the period (replacing any
    scheduled change). Raises TargetNotFound, VersionConflict or InvalidChange."""
    step, entry = await apply(
        conn,
        change,
        account_id,
        expected_version,
        lambda before: transitions.tier_change(before, tier_key, catalog, change.at),
    )
    assert step.plan is not None  # a tier change always has its price
    return step.plan, entry


async def change_term(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    term: str,
    expected_version: int,
) -> AuditEntry:
    """Schedule a move to `term` (monthly or annual) at the end of the period, beside any
    scheduled tier change; asking for the current term drops a scheduled term change.
    Raises TargetNotFound, VersionConflict or InvalidChange."""
    move = partial(transitions.term_change, term=term)
    return (await apply(conn, change, account_id, expected_version, move))[1]


async def cancel_scheduled_change(
    conn: asyncpg.Connection, change: ChangeContext, account_id: UUID, expected_version: int
) -> AuditEntry:
    """Drop the scheduled downgrade and term change. Raises TargetNotFound,
    VersionConflict, or InvalidChange when nothing is scheduled."""
    return (await apply(conn, change, account_id, expected_version, transitions.unschedule))[1]


async def rollback_target(
    conn: asyncpg.Connection, entry: AuditEntry, at: datetime
) -> tuple[Subscription, Subscription]:
    """The subscription that rolling back `entry` at `at` changes, locked, and the state
    the rollback restores (see `audit.rollback`). Renewals and trial ends, which time
    drives, are not rolled back, nor is a creation (InvalidChange); RollbackRefused when
    the subscription changed since, the steps time made due by `at` included (written
    first, as `lock_at_version` does): restoring a period that has ended would move the
    billing periods back, and the usage counted in them since. The caller checks what
    other domains require (the seats held, `seats.purchased`) before
    `restore_subscription`."""
    if entry.action in TIME_DRIVEN:
        raise InvalidChange("entryId", "renewals and trial ends are not rolled back")
    account_id, before = entry.target.account_id, entry.before
    if before is None:
        raise InvalidChange("entryId", "a creation is not rolled back; cancel the subscription")
    assert account_id is not None  # every subscription entry names its account
    sub = await lock_as_of(conn, account_id, at)
    await refuse_if_changed_since(conn, entry)
    return sub, from_snapshot(before)


async def restore_subscription(
    conn: asyncpg.Connection,
    change: ChangeContext,
    states: tuple[Subscription, Subscription],
    entry: AuditEntry,
) -> AuditEntry:
    """Return the subscription `rollback_target` locked to the state it recorded (every
    field but the version, which moves on), as a new change undoing `entry`."""
    account_id = entry.target.account_id
    assert account_id is not None  # every subscription entry names its account
    after = await repository.save(conn, states[1])
    return await record_change(
        conn, change, "rollback", account_id, (states[0], after), None, entry.id
    )


async def set_seats(conn: asyncpg.Connection, sub: Subscription, seats: int) -> Subscription:
    """Write the purchased seats of a subscription the caller has locked and checked."""
    return await repository.set_seats(conn, replace(sub, seats=seats))
