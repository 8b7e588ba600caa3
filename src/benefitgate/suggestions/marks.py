"""Marks: the accounts whose evidence for an upgrade changed, which the suggestion job
recomputes. They come from two places, each in the transaction of what it records:

- the outbox: the job follows it from a cursor of its own (`event_consumers`) and marks
  the account of every event that is evidence (`EVIDENCE`);
- metering, for evidence that is no event (`usage.evidence`): a projected overrun, a
  denied check.

A mark commits or rolls back with what made it, so no change is missed and none is seen
early; events pruned before the job read them are covered by the daily stale pass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.events import consumers
from benefitgate.events.outbox import Event
from benefitgate.usage import evidence

__all__ = ["EVIDENCE", "claim", "follow_events", "last_id", "mark_stale"]

# Event types whose account's upgrade evidence changed.
EVIDENCE = frozenset(
    {
        "entitlement.changed",
        "seats.changed",
        "subscription.changed",
        "outcome_target.set",
        "outcome_target.removed",
        "milestone.reached",
        "usage.threshold_crossed",
    }
)
CONSUMER = "suggestions"
# Passed over without becoming events: ingest writes one per account of each batch, and
# none is evidence (a crossing or a projected overrun is, and says so).
_PASSED_OVER = frozenset({"usage.recorded"}) - EVIDENCE
_PAGE = 500


async def follow_events(conn: asyncpg.Connection, now: datetime) -> int:
    """Mark the accounts of the evidence events after the job's cursor (`events.consumers`:
    once each, safe on several replicas at once); returns the number of events read."""

    async def mark(conn: asyncpg.Connection, page: Sequence[Event]) -> None:
        await evidence.mark(
            conn, [e.account_id for e in page if e.type in EVIDENCE and e.account_id], now
        )

    return await consumers.follow(conn, CONSUMER, _PAGE, mark, skip=_PASSED_OVER)


async def last_id(conn: asyncpg.Connection) -> int:
    """The newest mark's id (0 when there is none): a run of the job claims up to it."""
    found: int | None = await conn.fetchval("select max(id) from suggestion_marks")
    return found or 0


async def claim(conn: asyncpg.Connection, limit: int, through: int) -> list[UUID]:
    """Take the marks of the accounts of up to `limit` marks up to id `through` off the
    table, oldest first: every mark of each such account at once (later ones too), so that
    an account marked many times is recomputed once. Skips marks another transaction holds
    (another runner's claim, or evidence not yet committed that kept a mark:
    `usage.evidence`); those stay for the next claim. Returns the accounts, each once. The
    delete commits with the recompute, so a crash in between leaves the marks."""
    rows = await conn.fetch(
        """
        with oldest as materialized (
            select account_id from suggestion_marks where id <= $2 order by id limit $1
            for update skip locked
        )
        delete from suggestion_marks where id in (
            select id from suggestion_marks
            where account_id in (select account_id from oldest)
            for update skip locked)
        returning account_id
        """,
        limit,
        through,
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
