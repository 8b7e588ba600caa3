"""Every SQL statement that changes a subscription."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription

__all__ = ["had_trial", "lock", "lock_due", "note_trial", "save", "set_seats"]

_COLUMNS = """id, tier_version_id, term, seats, status, current_period_start,
              current_period_end, renewal_date, scheduled_tier_version_id,
              scheduled_change_at, started_at, version, scheduled_term, trial_ends_at,
              trial_fallback_tier_version_id, trial_converts, cancel_at_period_end"""


async def lock(conn: asyncpg.Connection, account_id: UUID) -> Subscription | None:
    """The account's subscription, locked until the end of the caller's transaction."""
    row = await conn.fetchrow(
        f"select {_COLUMNS} from subscriptions where account_id = $1 for update",  # noqa: S608
        account_id,
    )
    return None if row is None else Subscription(**dict(row))


async def status_for_share(conn: asyncpg.Connection, account_id: UUID) -> str | None:
    """The account's subscription status (None: it has none), its row share-locked until
    the end of the caller's transaction: a change to the subscription commits before the
    caller's transaction reads it or after that transaction ends."""
    status = await conn.fetchval(
        "select status from subscriptions where account_id = $1 for share", account_id
    )
    return None if status is None else str(status)


async def lock_due(
    conn: asyncpg.Connection, now: datetime, limit: int
) -> list[tuple[UUID, Subscription]]:
    """Up to `limit` (account id, subscription) pairs whose period or trial has ended by
    `now`, earliest first, locked; rows another transaction holds are skipped, so
    concurrent runs share the work instead of waiting on each other."""
    rows = await conn.fetch(
        f"""
        select account_id, {_COLUMNS} from subscriptions
        where status <> 'canceled' and (current_period_end <= $1 or trial_ends_at <= $1)
        order by least(current_period_end, trial_ends_at), id
        limit $2
        for update skip locked
        """,  # noqa: S608 (a constant column list, no input)
        now,
        limit,
    )
    return [(row["account_id"], _subscription(row)) for row in rows]


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(**{k: v for k, v in row.items() if k != "account_id"})


async def save(conn: asyncpg.Connection, sub: Subscription) -> Subscription:
    """Write every field of the subscription but its id and version, and bump the version.
    The caller holds the row lock and has checked the version it expected. Every field an
    audit snapshot records is written, so that a rollback restores all of it (seats too,
    which only `set_seats` and rollbacks move).

    A period moved on (a renewal) adds the one it ended to the history, in the same
    statement (its `before` reads the row as it was): backdated usage counts in it."""
    row = await conn.fetchrow(
        f"""
        with before as (
            select account_id, current_period_start, current_period_end, term
            from subscriptions where id = $1
        ), ended as (
            insert into subscription_periods (account_id, period_start, period_end, term)
            select account_id, current_period_start, least(current_period_end, $5), term
            from before where current_period_start < $5
            on conflict (account_id, period_start) do update
            set period_end = excluded.period_end, term = excluded.term
        )
        update subscriptions
        set tier_version_id = $2, term = $3, status = $4, current_period_start = $5,
            current_period_end = $6, renewal_date = $7, scheduled_tier_version_id = $8,
            scheduled_change_at = $9, scheduled_term = $10, trial_ends_at = $11,
            trial_fallback_tier_version_id = $12, trial_converts = $13,
            cancel_at_period_end = $14, seats = $15, started_at = $16, version = version + 1
        where id = $1
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        sub.id,
        sub.tier_version_id,
        sub.term,
        sub.status,
        sub.current_period_start,
        sub.current_period_end,
        sub.renewal_date,
        sub.scheduled_tier_version_id,
        sub.scheduled_change_at,
        sub.scheduled_term,
        sub.trial_ends_at,
        sub.trial_fallback_tier_version_id,
        sub.trial_converts,
        sub.cancel_at_period_end,
        sub.seats,
        sub.started_at,
    )
    return Subscription(**dict(row))


async def set_seats(conn: asyncpg.Connection, sub: Subscription) -> Subscription:
    """Write the purchased seats and bump the version; the caller holds the row lock."""
    row = await conn.fetchrow(
        f"""update subscriptions set seats = $2, version = version + 1 where id = $1
            returning {_COLUMNS}""",  # noqa: S608 (a constant column list, no input)
        sub.id,
        sub.seats,
    )
    return Subscription(**dict(row))


async def note_trial(
    conn: asyncpg.Connection, account_id: UUID, tier_key: str, at: datetime
) -> bool:
    """Note that the account started a trial of the tier; False if it had one before."""
    noted: bool | None = await conn.fetchval(
        """
        insert into subscription_trials (account_id, tier_key, started_at)
        values ($1, $2, $3)
        on conflict (account_id, tier_key) do nothing
        returning true
        """,
        account_id,
        tier_key,
        at,
    )
    return bool(noted)


async def had_trial(conn: asyncpg.Connection, account_id: UUID, tier_key: str) -> bool:
    found: bool = await conn.fetchval(
        "select exists (select from subscription_trials where account_id = $1 and tier_key = $2)",
        account_id,
        tier_key,
    )
    return found
