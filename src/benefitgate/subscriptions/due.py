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
from benefitgate.subscriptions import repository, service

__all__ = ["ACTOR", "BATCH", "MAX_STEPS", "apply_due"]

ACTOR = service.SCHEDULER
BATCH = 100
MAX_STEPS = service.MAX_STEPS


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
    caught_up = await service.catch_up(conn, account_id, sub, now, catalog)
    return caught_up.version - sub.version  # each step moves the version by one
