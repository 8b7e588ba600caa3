"""A subscription's life as a billing system drives it: created for an account, canceled
now or at its period's end (and reactivated before then), moved between active and past
due by dunning. Each change is audited and reported with a `subscription.changed` event
in the caller's transaction; the scheduler ends a cancellation that comes due, once (see
`lifecycle`).

A canceled subscription keeps its last tier and period for the record; its account is
suspended (checks answer SUSPENDED and consumption ACCOUNT_SUSPENDED, as for past due) and a new
subscription cannot replace it here: a returning customer is a new subscription on a new
account, or an operator's rollback of the cancellation.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription
from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import AlreadyExists, ChangeContext, InvalidChange, TargetNotFound
from benefitgate.common.text import quoted
from benefitgate.events import outbox as events
from benefitgate.subscriptions import repository
from benefitgate.subscriptions.lifecycle import period_end_after
from benefitgate.subscriptions.service import (
    EVENT,
    KIND,
    apply,
    lock_at_version,
    record_change,
    snapshot,
)
from benefitgate.subscriptions.transitions import MAX_TRIAL_DAYS, cancellation, reactivation

__all__ = ["cancel", "create", "new_subscription", "reactivate", "set_status"]

MAX_SEATS = 1_000_000
DUNNING = frozenset({"active", "past_due"})  # what a billing system may move between
MAX_START_BEHIND = timedelta(days=366)
# The caller's clock may run a little ahead of ours: a start "now" by it is not refused.
MAX_START_AHEAD = timedelta(minutes=1)


def new_subscription(
    tier_key: str,
    term: str,
    seats: int,
    start: datetime,
    trial_days: int,
    catalog: Catalog,
    now: datetime,
) -> Subscription:
    """A new subscription to the tier's version in force at `start`, trialing for
    `trial_days` first; raises InvalidChange, naming the field, for input out of range.
    The start is kept in UTC, and its period and renewal date counted there, whatever
    offset it was given in (the API, an import file)."""
    start = start.astimezone(UTC)
    _check_start(start, now)
    version = catalog.current(tier_key, start)
    if version is None:
        raise InvalidChange(
            "tier", f"no tier {quoted(tier_key)} is published at {start.isoformat()}"
        )
    if term not in ("monthly", "annual"):
        raise InvalidChange("term", "give monthly or annual")
    if not 1 <= seats <= MAX_SEATS:
        raise InvalidChange("seats", f"give 1 to {MAX_SEATS:,} seats")
    if not 0 <= trial_days <= MAX_TRIAL_DAYS:
        raise InvalidChange("trialDays", f"a trial lasts 0 to {MAX_TRIAL_DAYS} days")
    end = period_end_after(start, term, start)
    trial_end = start + timedelta(days=trial_days) if trial_days else None
    return Subscription(
        id=uuid.uuid4(),
        tier_version_id=version.id,
        term=term,
        seats=seats,
        status="trialing" if trial_end else "active",
        current_period_start=start,
        current_period_end=end,
        renewal_date=end.date(),
        scheduled_tier_version_id=None,
        scheduled_change_at=None,
        started_at=start,
        version=1,
        scheduled_term=None,
        trial_ends_at=trial_end,
        trial_fallback_tier_version_id=version.id if trial_end else None,
        trial_converts=True,  # the trial becomes the paid subscription unless canceled
    )


def _check_start(start: datetime, now: datetime) -> None:
    """A subscription starts when it is created, or earlier (its periods and renewals then
    catch up); a later start is refused. Nothing models a subscription that has not
    started: it would be active and entitled at once, and its usage counted in a period
    before its first."""
    if start - now > MAX_START_AHEAD:
        raise InvalidChange(
            "startsAt", "a subscription cannot start later than now: create it when it starts"
        )
    if now - start > MAX_START_BEHIND:
        raise InvalidChange("startsAt", "give a start within the past year")


async def create(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    tier_key: str,
    term: str,
    seats: int,
    starts_at: datetime | None,
    trial_days: int,
    catalog: Catalog,
) -> AuditEntry:
    """The account's subscription to the tier's version in force at `starts_at` (now by
    default), trialing for `trial_days` and then active unless canceled. Raises
    AlreadyExists when the account has one, InvalidChange for input out of range."""
    sub = new_subscription(
        tier_key, term, seats, starts_at or change.at, trial_days, catalog, change.at
    )
    await _insert(conn, account_id, sub)
    after = snapshot(sub, account_id)
    action = "subscription.created"
    entry = await audit.record(
        conn, change, action, Target(KIND, str(sub.id), account_id), None, after
    )
    payload = {"action": action, "auditEntryId": entry.id, "subscription": after}
    await events.enqueue(conn, EVENT, account_id, payload)
    return entry


async def _insert(conn: asyncpg.Connection, account_id: UUID, sub: Subscription) -> None:
    try:
        inserted = await conn.fetchval(
            """
            insert into subscriptions (id, account_id, tier_version_id, term, seats, status,
                current_period_start, current_period_end, renewal_date, started_at,
                trial_ends_at, trial_fallback_tier_version_id, trial_converts)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            on conflict (account_id) do nothing
            returning true
            """,
            sub.id, account_id, sub.tier_version_id, sub.term, sub.seats, sub.status,
            sub.current_period_start, sub.current_period_end, sub.renewal_date,
            sub.started_at, sub.trial_ends_at, sub.trial_fallback_tier_version_id,
            sub.trial_converts,
        )  # fmt: skip
    except asyncpg.ForeignKeyViolationError as exc:
        raise TargetNotFound("account") from exc
    if not inserted:
        existing = await conn.fetchval(
            "select id from subscriptions where account_id = $1", account_id
        )
        raise AlreadyExists("subscription", "this account", str(existing))


async def cancel(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    expected_version: int,
    at_period_end: bool,
) -> AuditEntry:
    """Cancel now, or at the end of the current period (the scheduler ends it then; until
    then `reactivate` undoes it). A scheduled tier or term change is dropped with it."""
    end = partial(cancellation, at_period_end=at_period_end)
    return (await apply(conn, change, account_id, expected_version, end))[1]


async def reactivate(
    conn: asyncpg.Connection, change: ChangeContext, account_id: UUID, expected_version: int
) -> AuditEntry:
    """Undo a cancellation scheduled for the period's end."""
    return (await apply(conn, change, account_id, expected_version, reactivation))[1]


async def set_status(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    expected_version: int,
    status: str,
) -> AuditEntry:
    """Move an active subscription to past due or back, as a billing system's dunning
    does; trialing and canceled ones are refused."""
    before = await lock_at_version(conn, account_id, expected_version, change.at)
    if status not in DUNNING or before.status not in DUNNING:
        raise InvalidChange(
            "status", f"only active and past due move between each other, not {before.status}"
        )
    wanted = replace(before, status=status)
    return await _save(conn, change, f"subscription.{status}", account_id, before, wanted)


async def _save(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    account_id: UUID,
    before: Subscription,
    wanted: Subscription,
) -> AuditEntry:
    after = await repository.save(conn, wanted)
    return await record_change(conn, change, action, account_id, (before, after))
