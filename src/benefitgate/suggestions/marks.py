"""Marks: the accounts whose evidence for an upgrade changed. Other domains call `mark` in
the transaction of the change (a threshold crossed, a denied check, a seat, a milestone, a
target, a tier change); the scheduler claims marks and recomputes those accounts. A mark
commits or rolls back with its change, so no change is missed and none is seen early."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["claim", "mark", "mark_stale"]


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


async def claim(conn: asyncpg.Connection, limit: int) -> list[UUID]:
    """Take up to `limit` marks off the table, oldest first, skipping marks another runner
    holds; returns their accounts, each once. The delete commits with the recompute, so a
    crash in between leaves the marks."""
    rows = await conn.fetch(
        """
        delete from suggestion_marks where id in (
            select id from suggestion_marks order by id limit $1 for update skip locked)
        returning account_id
        """,
        limit,
    )
    return sorted({r["account_id"] for r in rows})


async def mark_stale(conn: asyncpg.Connection, before: datetime, now: datetime) -> int:
    """Mark accounts whose current suggestion was last computed before `before`."""
    status = await conn.execute(
        """
        insert into suggestion_marks (account_id, marked_at)
        select account_id, $2 from suggestions
        where closed_at is null and evaluated_at < $1
        """,
        before,
        now,
    )
    return int(status.split()[-1])
