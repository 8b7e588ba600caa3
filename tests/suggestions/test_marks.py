"""The suggestion job marks accounts from the outbox, from a cursor of its own: every
evidence event once, other events never, and nothing twice across runs."""

from __future__ import annotations

import asyncio

import asyncpg

from benefitgate import db
from benefitgate.events import outbox as events
from benefitgate.suggestions import marks
from tests.fixtures import factories
from tests.fixtures.factories import NOW


async def _marked(conn: asyncpg.Connection) -> list[object]:
    return sorted(r["account_id"] for r in await conn.fetch("select * from suggestion_marks"))


async def test_evidence_events_mark_their_accounts_once(conn: asyncpg.Connection) -> None:
    cat = await factories.catalog(conn)
    seat, grant, other = [await factories.account(conn, cat["versions"]["basic"]) for _ in "abc"]
    await events.enqueue(conn, "seats.changed", seat, {})
    await events.enqueue(conn, "entitlement.changed", grant, {})
    await events.enqueue(conn, "api_key.revoked", None, {})
    await events.enqueue(conn, "renewal.reminder", other, {})  # not evidence

    first = await marks.follow_events(conn, NOW)
    again = await marks.follow_events(conn, NOW)
    assert (first, again) == (4, 0)
    assert await _marked(conn) == sorted([seat, grant])

    await events.enqueue(conn, "outcome_target.set", other, {})
    assert await marks.follow_events(conn, NOW) == 1
    assert await _marked(conn) == sorted([seat, grant, other])


async def test_replicas_following_at_once_read_each_event_once(
    dsn: str, conn: asyncpg.Connection
) -> None:
    cat = await factories.catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(30)]
    for account in accounts:
        for _ in range(40):
            await events.enqueue(conn, "usage.threshold_crossed", account, {})

    async def replica() -> int:
        own = await db.connect(dsn)
        try:
            return await marks.follow_events(own, NOW)
        finally:
            await own.close()

    read = await asyncio.gather(*(replica() for _ in range(4)))

    assert sum(read) == len(accounts) * 40  # the cursor row serialises the pages
    marked = await conn.fetch("select account_id, count(*) from suggestion_marks group by 1")
    assert len(marked) == len(accounts)
