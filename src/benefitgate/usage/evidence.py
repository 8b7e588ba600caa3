"""Upgrade evidence that is not an event: an account whose usage runs toward an overrun,
or whose entitlement check was denied. Metering marks such accounts in the transaction of
the usage; the suggestion job recomputes them (see `suggestions.marks`). Every other
change that is evidence (a grant, a seat, a subscription, a target, a milestone, a
threshold crossed) is an outbox event, which the job follows instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["mark", "mark_each"]


async def mark(conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime) -> None:
    """Mark accounts whose evidence changed, in the caller's transaction."""
    if not account_ids:
        return
    await conn.execute(
        """
        insert into suggestion_marks (account_id, marked_at)
        select a, $2 from unnest($1::uuid[]) as a
        """,
        list(set(account_ids)),
        now,
    )


async def mark_each(conn: asyncpg.Connection, marks: Mapping[UUID, datetime]) -> None:
    """Mark each account at its own time, in one statement, in the caller's transaction
    (denied checks: each carries the instant of its request)."""
    if not marks:
        return
    await conn.execute(
        """
        insert into suggestion_marks (account_id, marked_at)
        select a, t from unnest($1::uuid[], $2::timestamptz[]) as m(a, t)
        """,
        list(marks),
        list(marks.values()),
    )
