"""Every SQL statement of renewal reminders."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["claim_due_reminders"]


async def claim_due_reminders(
    conn: asyncpg.Connection, days_before: int, now: datetime
) -> list[tuple[UUID, datetime]]:
    """Record the `days_before` reminders due by `now` and not sent yet; returns (account,
    renewal) for each one recorded. A reminder is due from `days_before` days before the
    period's end, if that falls within the period, until the period ends."""
    rows = await conn.fetch(
        """
        insert into renewal_reminders (account_id, renewal_at, days_before, sent_at)
        select account_id, current_period_end, $1, $2 from subscriptions
        where status <> 'canceled' and not cancel_at_period_end and current_period_end > $2
          and current_period_end - make_interval(days => $1) <= $2
          and current_period_end - make_interval(days => $1) >= current_period_start
        order by account_id
        on conflict do nothing
        returning account_id, renewal_at
        """,
        days_before,
        now,
    )
    return [(r["account_id"], r["renewal_at"]) for r in rows]
