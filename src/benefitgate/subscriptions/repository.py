"""Every SQL statement that changes a subscription."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription

__all__ = ["lock", "update"]

_COLUMNS = """id, tier_version_id, term, seats, status, current_period_start,
              current_period_end, renewal_date, scheduled_tier_version_id,
              scheduled_change_at, started_at, version"""


async def lock(conn: asyncpg.Connection, account_id: UUID) -> Subscription | None:
    """The account's subscription, locked until the end of the caller's transaction."""
    row = await conn.fetchrow(
        f"select {_COLUMNS} from subscriptions where account_id = $1 for update",  # noqa: S608
        account_id,
    )
    return None if row is None else Subscription(**dict(row))


async def update(
    conn: asyncpg.Connection,
    subscription_id: UUID,
    tier_version_id: int,
    scheduled: tuple[int | None, datetime | None],
) -> Subscription:
    """Set the tier version and the scheduled change, and bump the version. The caller
    holds the row lock and has checked the version it expected."""
    row = await conn.fetchrow(
        f"""
        update subscriptions
        set tier_version_id = $2, scheduled_tier_version_id = $3, scheduled_change_at = $4,
            version = version + 1
        where id = $1
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        subscription_id,
        tier_version_id,
        *scheduled,
    )
    return Subscription(**dict(row))
