"""The scheduler's subscription job: end the trials and renew the periods that are due,
catching up on every step missed while no replica ran it.

Exactness comes from the rows, not from the scheduler's lock: each batch locks its
subscriptions (`SKIP LOCKED`), and a step is due only while the locked row says so, so two
runs at once can never apply one step twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext
from benefitgate.subscriptions import repository, service
from benefitgate.subscriptions.lifecycle import next_step

__all__ = ["ACTOR", "BATCH", "MAX_STEPS", "apply_due"]

ACTOR = "scheduler"
BATCH = 100
# A monthly subscription missing this many renewals has been down for decades: stop and
# leave the rest for the next run rather than hold one transaction open indefinitely.
MAX_STEPS = 120


async def apply_due(
    pool: asyncpg.Pool, catalog: Callable[[], Awaitable[Catalog]], now: datetime
) -> int:
    """Apply every step due by `now`, one transaction per batch; returns the steps
    applied. Each step writes the subscription, an audit entry by `scheduler` and a
    `subscription.changed` event together."""
    applied = 0
    while True:
        snapshot = await catalog()
        async with pool.acquire() as conn, conn.transaction():
            batch = await repository.lock_due(conn, now, BATCH)
            for account_id, sub in batch:
                applied += await _catch_up(conn, account_id, sub, snapshot, now)
        if len(batch) < BATCH:
            return applied


async def _catch_up(
    conn: asyncpg.Connection, account_id: UUID, sub: Subscription, catalog: Catalog, now: datetime
) -> int:
    steps = 0
    while steps < MAX_STEPS and (step := next_step(sub, catalog, now)) is not None:
        change = ChangeContext(ACTOR, _REASONS[step.action], None, now)
        after = await repository.save(conn, step.after)
        details = {"effectiveAt": step.at.isoformat(), **step.details}
        await service.record_change(conn, change, step.action, account_id, (sub, after), details)
        sub, steps = after, steps + 1
    return steps


_REASONS = {
    "subscription.renewed": "the period ended",
    "subscription.trial_ended": "the trial ended without converting",
    "subscription.trial_converted": "the trial ended and converted",
    "subscription.ended": "canceled at the end of its period",
}
