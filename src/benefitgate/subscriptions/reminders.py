"""Renewal reminders due: 90, 60 and 30 days before each renewal, once per account,
renewal and lead time (a primary key, not a check in code). `renewals.reminders` sends
them with their notes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.subscriptions import reminder_repository as repository

__all__ = ["EVENT", "LEAD_DAYS", "claim_due"]

EVENT = "renewal.reminder"
LEAD_DAYS = (90, 60, 30)


async def claim_due(
    conn: asyncpg.Connection, days_before: int, now: datetime, limit: int
) -> list[tuple[UUID, datetime]]:
    """Record up to `limit` of the `days_before` reminders due by `now` and not sent yet,
    in the caller's transaction; returns (account, renewal) for each one recorded."""
    return await repository.claim_due_reminders(conn, days_before, now, limit)
