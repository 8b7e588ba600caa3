"""Upgrade evidence that is not an event: an account whose usage runs toward an overrun,
or whose entitlement check was denied. Metering marks such accounts in the transaction of
the usage; the suggestion job recomputes them (see `suggestions.marks`). Every other
change that is evidence (a grant, a seat, a subscription, a target, a milestone, a
threshold crossed) is an outbox event, which the job follows instead.

An account that already has a mark waiting is not marked again: the caller's transaction
takes a share lock on that mark instead, which keeps the job from claiming it until the
evidence has committed, so the recompute that takes it reads that evidence too. A mark
the job holds (a claim in progress, whose recompute may have read the evidence already)
is skipped, and the account is marked anew. No statement here waits on a lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["mark", "mark_each"]


async def mark(conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime) -> None:
    """Mark accounts whose evidence changed, in the caller's transaction."""
    await mark_each(conn, dict.fromkeys(account_ids, now))


async def mark_each(conn: asyncpg.Connection, marks: Mapping[UUID, datetime]) -> None:
    """Mark each account at its own time, in one statement, in the caller's transaction
    (denied checks: each carries the instant of its request); an account with a mark
    waiting keeps that one (see the module's docstring)."""
    if not marks:
        return
    await conn.execute(
        """
        with waiting as materialized (
            select account_id from suggestion_marks
            where account_id = any($1::uuid[])
            for key share skip locked
        )
        insert into suggestion_marks (account_id, marked_at)
        select a, t from unnest($1::uuid[], $2::timestamptz[]) as m(a, t)
        where a not in (select account_id from waiting)
        """,
        list(marks),
        list(marks.values()),
    )
