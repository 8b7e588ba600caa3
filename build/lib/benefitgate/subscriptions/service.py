"""Tier changes for internal tools: upgrade now, downgrade at the end of the period (and
cancel that), preview the price, and restore a state for a rollback. Each change writes
its audit entry and a `subscription.changed` event in the caller's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription
from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.audit.rollback import refuse_if_changed_since
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound, expect_version
from benefitgate.common.isotime import from_iso, to_iso
from benefitgate.events import outbox as events
from benefitgate.subscriptions import repository
from benefitgate.subscriptions.lifecycle import TIME_DRIVEN
from benefitgate.subscriptions.proration import TierChangePlan, plan_tier_change

__all__ = [
    "cancel_scheduled_change",
    "change_term",
    "change_tier",
    "from_snapshot",
    "lock_at_version",
    "lock_subscription",
    "plan_json",
    "preview_tier_change",
    "record_change",
    "restore_subscription",
    "roll_back_subscription",
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


def _plan(sub: Subscription, tier_key: str, catalog: Catalog, now: datetime) -> TierChangePlan:
    if sub.status == "canceled":
        raise InvalidChange("accountId", "the subscription is canceled")
    if sub.status == "trialing":
        raise InvalidChange("accountId", "the subscription is in a trial: say whether it converts")
    target = catalog.current(tier_key, now)
    if target is None:
        raise InvalidChange("tier", f"no tier {tier_key!r} is published now")
    current = catalog.versions[sub.tier_version_id]
    period = (sub.current_period_start, sub.current_period_end)
    return plan_tier_change(current, target, sub.term, period, now)


def preview_tier_change(
    sub: Subscription, tier_key: str, catalog: Catalog, now: datetime
) -> TierChangePlan:
    """What `change_tier` would do now, without doing it. Raises InvalidChange."""
    return _plan(sub, tier_key, catalog, now)


def _with_change_time(sub: Subscription) -> Subscription:
    """Scheduled changes take effect together, at the end of the current period."""
    pending = sub.scheduled_tier_version_id is not None or sub.scheduled_term is not None
    return replace(sub, scheduled_change_at=sub.current_period_end if pending else None)


async def lock_subscription(conn: asyncpg.Connection, account_id: UUID) -> Subscription:
    sub = await repository.lock(conn, account_id)
    if sub is None:
        raise TargetNotFound("subscription")
    return sub


async def lock_at_version(
    conn: asyncpg.Connection, account_id: UUID, expected: int
) -> Subscription:
    """The account's subscription, locked, if it is still at version `expected`. Raises
    TargetNotFound or VersionConflict."""
    sub = await lock_subscription(conn, account_id)
    expect_version(expected, sub.version)
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
    before = await lock_at_version(conn, account_id, expected_version)
    plan = _plan(before, tier_key, catalog, change.at)
    if plan.upgrade:
        wanted = replace(before, tier_version_id=plan.target.id, scheduled_tier_version_id=None)
        action = "subscription.upgraded"
    else:
        wanted = replace(before, scheduled_tier_version_id=plan.target.id)
        action = "subscription.downgrade_scheduled"
    after = await repository.save(conn, _with_change_time(wanted))
    details = {"change": plan_json(plan)}
    return plan, await record_change(conn, change, action, account_id, (before, after), details)


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
    before = await lock_at_version(conn, account_id, expected_version)
    if before.status == "canceled":
        raise InvalidChange("accountId", "the subscription is canceled")
    if term == before.term and before.scheduled_term is None:
        raise InvalidChange("term", f"the subscription is already {term}")
    scheduled = None if term == before.term else term
    wanted = _with_change_time(replace(before, scheduled_term=scheduled))
    after = await repository.save(conn, wanted)
    return await record_change(
        conn, change, "subscription.term_scheduled", account_id, (before, after)
    )


async def cancel_scheduled_change(
    conn: asyncpg.Connection, change: ChangeContext, account_id: UUID, expected_version: int
) -> AuditEntry:
    """Drop the scheduled downgrade and term change. Raises TargetNotFound,
    VersionConflict, or InvalidChange when nothing is scheduled."""
    before = await lock_at_version(conn, account_id, expected_version)
    if before.scheduled_change_at is None:
        raise InvalidChange("accountId", "no change is scheduled")
    wanted = replace(before, scheduled_tier_version_id=None, scheduled_term=None)
    after = await repository.save(conn, _with_change_time(wanted))
    action = "subscription.scheduled_change_canceled"
    return await record_change(conn, change, action, account_id, (before, after))


async def restore_subscription(
    conn: asyncpg.Connection,
    change: ChangeContext,
    sub: Subscription,
    account_id: UUID,
    state: dict[str, Any],
    rollback_of: int,
) -> AuditEntry:
    """Return a subscription locked by `lock_subscription` to a recorded state (tier,
    term, period, status, trial and scheduled change), as a new change."""
    after = await repository.save(conn, from_snapshot(state))
    return await record_change(
        conn, change, "rollback", account_id, (sub, after), None, rollback_of
    )


async def roll_back_subscription(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    """The rollback of a subscription's audit entry (see `audit.rollback`); renewals and
    trial ends, which time drives, are not rolled back."""
    if entry.action in TIME_DRIVEN:
        raise InvalidChange("entryId", "renewals and trial ends are not rolled back")
    account_id, before = entry.target.account_id, entry.before
    if before is None:
        raise InvalidChange("entryId", "a creation is not rolled back; cancel the subscription")
    assert account_id is not None  # every subscription entry names its account
    sub = await lock_subscription(conn, account_id)
    await refuse_if_changed_since(conn, entry)
    return await restore_subscription(conn, change, sub, account_id, before, entry.id)


async def set_seats(conn: asyncpg.Connection, sub: Subscription, seats: int) -> Subscription:
    """Write the purchased seats of a subscription the caller has locked and checked."""
    return await repository.set_seats(conn, replace(sub, seats=seats))
