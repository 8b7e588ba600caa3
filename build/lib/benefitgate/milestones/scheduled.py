"""The scheduler's milestone job: renewal anniversaries and usage sustained over several
periods, evaluated up to now from where the last run stopped, so an anniversary that
passed while no replica ran is still awarded, once.

Each milestone is evaluated in its own transaction with its row locked (`SKIP LOCKED`), and
moves its `evaluated_until` mark in that transaction; achievements are unique per
occurrence besides, so concurrent runs never award twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from benefitgate.catalog.models import Catalog
from benefitgate.milestones import repository
from benefitgate.milestones.models import Milestone
from benefitgate.milestones.rules import ONCE, Hit, occurrence
from benefitgate.milestones.service import award

__all__ = ["TIME_DRIVEN_KINDS", "award_due"]

TIME_DRIVEN_KINDS = ("renewal_anniversary", "sustained_usage")


async def award_due(
    pool: asyncpg.Pool, catalog: Callable[[], Awaitable[Catalog]], now: datetime
) -> int:
    """Award every time-driven milestone due by `now`; returns how many were awarded."""
    async with pool.acquire() as conn:
        milestones = await repository.active_milestones(conn, TIME_DRIVEN_KINDS)
    snapshot = await catalog()
    awarded = 0
    for milestone in milestones:
        async with pool.acquire() as conn, conn.transaction():
            locked = await repository.lock_for_evaluation(conn, milestone.key)
            if locked is None:
                continue
            current, since = locked
            hits = await _hits(conn, current, since, now)
            awarded += len(await award(conn, hits, {current.key: current}, snapshot, now))
            await repository.mark_evaluated(conn, current.key, max(since, now))
    return awarded


async def _hits(
    conn: asyncpg.Connection, m: Milestone, since: datetime, now: datetime
) -> list[Hit]:
    assert m.periods is not None
    if m.kind == "renewal_anniversary":
        due = await repository.due_anniversaries(conn, m.periods, since, now)
        return [(account_id, m.key, ONCE, float(m.periods)) for account_id, _ in due]
    closings = await repository.sustained_closings(conn, m, since, now)
    return [
        (account_id, m.key, occurrence(m, start), value) for account_id, start, value in closings
    ]
