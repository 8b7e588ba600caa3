"""The scheduler's renewal reminder job: each `renewal.reminder` event (90, 60 and 30 days
before a renewal, once each) carries the account's renewal note, read in the transaction
that records the reminder. Caught up after downtime: it works from what is due."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.catalog.models import Catalog
from benefitgate.clock import days_until
from benefitgate.events import outbox as events
from benefitgate.renewals import render
from benefitgate.renewals.service import note_of
from benefitgate.subscriptions.reminders import EVENT, LEAD_DAYS, claim_due

__all__ = ["BATCH", "send_due"]

BATCH = 100  # reminders per transaction: each reads about ten statements for its note


async def send_due(
    pool: asyncpg.Pool, catalog: Callable[[], Awaitable[Catalog]], now: datetime
) -> int:
    """Send every reminder due by `now`, a batch per transaction; returns how many."""
    snapshot = await catalog()
    sent = 0
    for days in LEAD_DAYS:
        while True:
            async with pool.acquire() as conn, conn.transaction():
                claimed = await claim_due(conn, days, now, BATCH)
                found = await accounts.accounts_as_of(conn, [a for a, _ in claimed], snapshot, now)
                for account_id, renewal_at in claimed:
                    note = await note_of(conn, found[account_id], snapshot, now)
                    payload: dict[str, Any] = {
                        "daysBefore": days,
                        "renewsAt": renewal_at.isoformat(),
                        "daysLeft": days_until(renewal_at, now),
                        **({} if note is None else render.payload(note)),
                    }
                    await events.enqueue(conn, EVENT, account_id, payload)
            sent += len(claimed)
            if len(claimed) < BATCH:
                break
    return sent
