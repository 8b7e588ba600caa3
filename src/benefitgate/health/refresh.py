"""The scheduler's health job: keeps every account's stored score current.

An account is due when an event named it since it was last scored (the job follows the
outbox from a cursor of its own and marks the account of every event but those that
change nothing health reads and recorded usage, `QUIET`), when it was never scored, or
when it was last scored before today (UTC): usage windows slide, and denials, which no
event reports, count by day. Due accounts are scored a batch per transaction, each batch a round of
`scores.begin_round`, so a reader sees whole rounds only.

Exactly once across replicas: the scheduler's lock runs the job on one replica, and the
round's row lock, taken before the due accounts are claimed, serialises any other run;
a claimed account is scored for the day (or its mark removed) in the same transaction.
After downtime, the first run finds every account stale and the events it missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.catalog.models import Catalog
from benefitgate.events import consumers
from benefitgate.events.outbox import Event
from benefitgate.health import scores, service

__all__ = ["BATCH", "QUIET", "follow_events", "refresh_due"]

BATCH = 500  # accounts per round
# Rows closed for longer than a walk through accounts at risk may last (and an hour's
# slack for clocks) are removed.
_KEEP = service.CURSOR_LIFETIME + timedelta(hours=1)
# Events that change nothing an account's health is scored from, and usage as it is
# recorded: its factors read windows of 30 and 60 days, which the daily rescore follows,
# while a mark per batch would rescore every metered account at every tick under ingest.
QUIET = frozenset(
    {
        "usage.recorded",
        "renewal.reminder",
        "impact.report_ready",
        "impact.report_schedule_set",
        "suggestion.created",
        "suggestion.accepted",
        "suggestion.dismissed",
        "partner.account_linked",
        "partner.account_unlinked",
    }
)
CONSUMER = "health"
_PASSED_OVER = QUIET  # none marks an account
_PAGE = 500


async def follow_events(conn: asyncpg.Connection, now: datetime) -> int:
    """Mark the accounts of the events after the job's cursor (`events.consumers`: once
    each, safe on several replicas at once); returns the number of events read."""

    async def mark(conn: asyncpg.Connection, page: Sequence[Event]) -> None:
        await scores.mark(
            conn, [e.account_id for e in page if e.account_id and e.type not in QUIET], now
        )

    return await consumers.follow(conn, CONSUMER, _PAGE, mark, skip=_PASSED_OVER)


def _midnight(now: datetime) -> datetime:
    day = now.astimezone(UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def refresh_due(
    pool: asyncpg.Pool, catalog: Callable[[], Awaitable[Catalog]], now: datetime
) -> int:
    """Score every due account as of `now`; returns how many were scored."""
    done = 0
    async with pool.acquire() as conn:
        await follow_events(conn, now)
        snapshot = await catalog()
        while True:
            async with conn.transaction():
                at = await scores.begin_round(conn, now)
                due = await scores.claim_due(conn, _midnight(now), BATCH)
                if not due:
                    await scores.prune(conn, now - _KEEP)
                    return done
                found = await accounts.accounts_as_of(conn, due, snapshot, now)
                healths = await service.health_by_account(conn, list(found.values()), snapshot, now)
                await scores.record(
                    conn, [(healths[i], service.renews_on(a)) for i, a in found.items()], at
                )
                await scores.end_round(conn, at)
            done += len(found)
