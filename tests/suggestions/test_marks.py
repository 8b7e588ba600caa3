"""The suggestion job marks accounts from the outbox, from a cursor of its own: every
evidence event once, other events never, and nothing twice across runs. An account is
marked once until a claim takes its marks, all at once, and no evidence committed after a
claim's recompute read its account goes without a mark."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from benefitgate import db
from benefitgate.events import outbox as events
from benefitgate.suggestions import marks
from benefitgate.usage import evidence
from tests.fixtures import factories
from tests.fixtures.factories import NOW

SECOND = timedelta(seconds=1)
EVERY = 2**62  # a bound past every mark's id


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


async def _marks_of(conn: asyncpg.Connection) -> list[tuple[object, object]]:
    rows = await conn.fetch("select account_id, marked_at from suggestion_marks order by id")
    return [(r["account_id"], r["marked_at"]) for r in rows]


async def test_an_account_with_a_mark_waiting_is_not_marked_again(
    conn: asyncpg.Connection,
) -> None:
    cat = await factories.catalog(conn)
    denied, other = [await factories.account(conn, cat["versions"]["basic"]) for _ in "ab"]

    await evidence.mark(conn, [denied], NOW)
    await evidence.mark_each(conn, {denied: NOW + SECOND, other: NOW + SECOND})
    await evidence.mark(conn, [denied, other], NOW + 2 * SECOND)

    # One mark each, the first: the recompute that takes it reads all the evidence since.
    assert await _marks_of(conn) == [(denied, NOW), (other, NOW + SECOND)]


async def test_evidence_marks_anew_while_a_claim_holds_the_accounts_mark(
    dsn: str, conn: asyncpg.Connection
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await evidence.mark(conn, [account], NOW)
    job = await db.connect(dsn)
    try:
        claiming = job.transaction()
        await claiming.start()
        assert await marks.claim(job, 10, EVERY) == [account]
        # The claim's recompute may have read the evidence already: this evidence needs a
        # mark of its own, and writing it must not wait for the job.
        await asyncio.wait_for(evidence.mark(conn, [account], NOW + SECOND), 5)
        await claiming.commit()
    finally:
        await job.close()

    assert await _marks_of(conn) == [(account, NOW + SECOND)]


async def test_a_mark_kept_for_evidence_not_yet_committed_is_not_claimed_before_it_commits(
    dsn: str, conn: asyncpg.Connection
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await evidence.mark(conn, [account], NOW)
    flush = await db.connect(dsn)
    try:
        writing = flush.transaction()
        await writing.start()
        await evidence.mark(flush, [account], NOW + SECOND)  # keeps the waiting mark
        # A recompute now could not read the flush's evidence: the mark stays for later.
        async with conn.transaction():
            assert await asyncio.wait_for(marks.claim(conn, 10, EVERY), 5) == []
        await writing.commit()
    finally:
        await flush.close()

    async with conn.transaction():
        assert await marks.claim(conn, 10, EVERY) == [account]
    assert await _marks_of(conn) == []


async def test_a_claim_takes_every_mark_of_its_accounts_at_once(conn: asyncpg.Connection) -> None:
    cat = await factories.catalog(conn)
    a, b, c = [await factories.account(conn, cat["versions"]["basic"]) for _ in "abc"]
    # Several marks of one account: transactions that marked it at once each wrote one.
    await conn.executemany(
        "insert into suggestion_marks (account_id, marked_at) values ($1, $2)",
        [(a, NOW), (b, NOW), (a, NOW), (c, NOW), (a, NOW)],
    )

    async with conn.transaction():
        claimed = await marks.claim(conn, 2, EVERY)

    assert claimed == sorted([a, b])
    assert await _marks_of(conn) == [(c, NOW)]  # a's later marks went with its first


async def test_a_claim_takes_no_mark_after_its_bound_but_of_the_accounts_it_takes(
    conn: asyncpg.Connection,
) -> None:
    cat = await factories.catalog(conn)
    a, b = [await factories.account(conn, cat["versions"]["basic"]) for _ in "ab"]
    await conn.executemany(
        "insert into suggestion_marks (account_id, marked_at) values ($1, $2)",
        [(a, NOW), (b, NOW + SECOND), (a, NOW + SECOND)],
    )
    first = await conn.fetchval("select min(id) from suggestion_marks")

    async with conn.transaction():
        assert await marks.claim(conn, 10, first) == [a]

    assert await _marks_of(conn) == [(b, NOW + SECOND)]
