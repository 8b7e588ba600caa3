"""The scheduler's renewal reminder job: a `renewal.reminder` event 90, 60 and 30 days
before each renewal, once per account, renewal and lead time (a primary key, not a check
in code), caught up after downtime because it works from what is due, not from ticks."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from benefitgate.events import outbox as events
from benefitgate.subscriptions import reminder_repository as repository

__all__ = ["EVENT", "LEAD_DAYS", "send_due"]

EVENT = "renewal.reminder"
LEAD_DAYS = (90, 60, 30)


async def send_due(pool: asyncpg.Pool, now: datetime) -> int:
    """Send every reminder due by `now` in one transaction; returns how many."""
    sent = 0
    async with pool.acquire() as conn, conn.transaction():
        for days in LEAD_DAYS:
            for account_id, renewal_at in await repository.claim_due_reminders(conn, days, now):
                payload = {
                    "daysBefore": days,
                    "renewsAt": renewal_at.isoformat(),
                    "daysLeft": (renewal_at - now).days,
                }
                await events.enqueue(conn, EVENT, account_id, payload)
                sent += 1
    return sent
