"""Every SQL statement of renewal reminders."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["claim_due_reminders"]


async def claim_due_reminders(
    conn: asyncpg.Connection, days_before: int, now: datetime, limit: int
) -> list[tuple[UUID, datetime]]:
    """Record up to `limit` of the `days_before` reminders due by `now` and not sent yet;
    returns (account, renewal) for each one recorded. A reminder is due from `days_before`
    days before the period's end, if that falls within the period, until the period ends.
    Those sent already are left out before the limit, so a batch is never all conflicts."""
    rows = await conn.fetch(
        """
        insert into renewal_reminders (account_id, renewal_at, days_before, sent_at)
        select s.account_id, s.current_period_end, $1, $2 from subscriptions s
        where s.status <> 'canceled' and not s.cancel_at_period_end and s.current_period_end > $2
          and s.current_period_end - make_interval(days => $1) <= $2
          and s.current_period_end - make_interval(days => $1) >= s.current_period_start
          and not exists (
            select 1 from renewal_reminders r
            where r.account_id = s.account_id and r.renewal_at = s.current_period_end
              and r.days_before = $1)
        order by s.account_id
        limit $3
        on conflict do nothing
        returning account_id, renewal_at
        """,
        days_before,
        now,
        limit,
    )
    return [(r["account_id"], r["renewal_at"]) for r in rows]
