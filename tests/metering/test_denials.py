"""Denials are tallied in memory and written in batches; a batch that fails to write is
kept, whole, for the next one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.clock import FixedClock
from benefitgate.metering import repository
from benefitgate.metering.denials import MARK_EVERY, STATEMENT_ROWS, Denials
from benefitgate.metering.models import CheckReason
from tests.fixtures import factories
from tests.fixtures.factories import NOW


async def test_a_tally_is_written_in_one_flush_with_counts_and_first_and_last_times(
    conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    denials = Denials(pool, clock)
    last = NOW + timedelta(minutes=5, microseconds=7)  # the rows travel as JSON: exactly
    for at in (last, NOW + timedelta(minutes=1), NOW + timedelta(minutes=3)):
        denials.add(account, "b2", CheckReason.NOT_IN_TIER, at)
    denials.add(account, "m0", CheckReason.LIMIT_REACHED, NOW)
    assert await conn.fetchval("select count(*) from entitlement_denials") == 0

    await denials.flush()
    await denials.flush()  # nothing left: writes nothing more

    rows = await conn.fetch(
        "select feature, reason, count, first_at, last_at from entitlement_denials order by 1"
    )
    assert [tuple(r) for r in rows] == [
        ("b2", "not_in_tier", 3, NOW + timedelta(minutes=1), last),
        ("m0", "limit_reached", 1, NOW, NOW),
    ]
    marked = await conn.fetch("select account_id, marked_at from suggestion_marks")
    assert [tuple(r) for r in marked] == [(account, last)]


async def test_a_flush_that_fails_keeps_its_tally_for_the_next(
    conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account = uuid.uuid4()  # not created yet: the flush's write fails on its foreign key
    denials = Denials(pool, clock)
    denials.add(account, "b2", CheckReason.NOT_IN_TIER, NOW)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await denials.flush()
    denials.add(account, "b2", CheckReason.NOT_IN_TIER, NOW + timedelta(minutes=1))
    await conn.execute("insert into accounts (id, name) values ($1, 'Late')", account)

    await denials.flush()

    row = await conn.fetchrow("select count, first_at, last_at from entitlement_denials")
    assert row is not None
    assert tuple(row) == (2, NOW, NOW + timedelta(minutes=1))


async def test_a_large_tally_is_written_in_bounded_statements_exactly_and_without_deadlock(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second's tally of thousands of accounts went out in one statement, whose encoding
    held the event loop for up to 17 ms. It is written in statements of about
    STATEMENT_ROWS rows, still exactly, and two replicas flushing the same accounts at
    once still take the row locks in one order."""
    accounts = [uuid.uuid4() for _ in range(3 * STATEMENT_ROWS // 2 + 7)]
    await conn.executemany(
        "insert into accounts (id, name) values ($1, 'A')", [(a,) for a in accounts]
    )
    sizes: list[int] = []
    record = repository.record_denials

    async def counted(conn: asyncpg.Connection, rows: Any) -> None:
        sizes.append(len(rows))
        await record(conn, rows)

    monkeypatch.setattr(repository, "record_denials", counted)
    replicas = [Denials(pool, clock), Denials(pool, clock)]
    for _ in range(3):
        for replica, order in zip(replicas, (accounts, accounts[::-1]), strict=True):
            for account in order:
                replica.add(account, "b2", CheckReason.NOT_IN_TIER, NOW)
                replica.add(account, "m0", CheckReason.LIMIT_REACHED, NOW)
                replica.used(account, "b1", NOW)
        await asyncio.gather(*(replica.flush() for replica in replicas))

    assert max(sizes) <= STATEMENT_ROWS + 1 and len(sizes) >= 6  # an account's 2 rows together
    counts = await conn.fetch("select count, count(*) from entitlement_denials group by 1")
    assert [tuple(r) for r in counts] == [(6, 2 * len(accounts))]
    uses = await conn.fetch("select count, count(*) from benefit_uses group by 1")
    assert [tuple(r) for r in uses] == [(6, len(accounts))]
    assert await conn.fetchval("select count(distinct account_id) from suggestion_marks") == len(
        accounts
    )


async def marks_of(conn: asyncpg.Connection) -> list[tuple[uuid.UUID, Any]]:
    rows = await conn.fetch("select account_id, marked_at from suggestion_marks order by id")
    return [tuple(r) for r in rows]


async def test_an_account_denied_again_is_marked_again_only_once_mark_every_has_passed(
    conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    """Each mark costs the suggestion job a recompute: an account denied every second was
    recomputed every tick. A repeat waits until MARK_EVERY after the account's last mark,
    and is marked then even if no denial follows, with its latest instant; the counts are
    written at every flush all the same."""
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    denials = Denials(pool, clock)
    denials.add(account, "b2", CheckReason.NOT_IN_TIER, clock.now())
    await denials.flush()
    first = await marks_of(conn)
    assert first == [(account, NOW)]
    await conn.execute("delete from suggestion_marks")  # the job took it

    for _ in range(3):
        clock.at += MARK_EVERY / 4
        denials.add(account, "b2", CheckReason.NOT_IN_TIER, clock.now())
        await denials.flush()
    assert await marks_of(conn) == []  # waiting
    assert await conn.fetchval("select count from entitlement_denials") == 4
    latest = clock.now()

    clock.at += MARK_EVERY / 4  # MARK_EVERY since the mark: due without another denial
    await denials.flush()
    assert await marks_of(conn) == [(account, latest)]
    await denials.flush()
    assert len(await marks_of(conn)) == 1  # nothing waits any more


async def test_the_last_flush_marks_what_waits_and_other_accounts_are_marked_at_once(
    conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn)
    first = await factories.account(conn, cat["versions"]["basic"])
    second = await factories.account(conn, cat["versions"]["basic"])
    denials = Denials(pool, clock)
    denials.add(first, "b2", CheckReason.NOT_IN_TIER, clock.now())
    await denials.flush()
    await conn.execute("delete from suggestion_marks")

    clock.at += timedelta(seconds=1)
    denials.add(first, "b2", CheckReason.NOT_IN_TIER, clock.now())
    denials.add(second, "b2", CheckReason.EXCLUDED, clock.now())
    denials.add(second, "m0", CheckReason.LIMIT_REACHED, clock.now())  # no evidence
    await denials.flush()
    assert await marks_of(conn) == [(second, clock.now())]  # never marked before: at once

    await denials.flush(last=True)  # shutting down: nothing waits in memory
    assert sorted(await marks_of(conn)) == sorted([(second, clock.now()), (first, clock.now())])


async def test_a_feature_newly_denied_marks_its_account_at_once_while_a_repeat_waits(
    conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    """A feature asked for the first time is new evidence (it can reopen a dismissed
    suggestion): only repeats of one feature wait."""
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    denials = Denials(pool, clock)
    denials.add(account, "b2", CheckReason.NOT_IN_TIER, clock.now())
    await denials.flush()
    await conn.execute("delete from suggestion_marks")

    clock.at += timedelta(seconds=1)
    denials.add(account, "b2", CheckReason.NOT_IN_TIER, clock.now())
    await denials.flush()
    assert await marks_of(conn) == []
    clock.at += timedelta(seconds=1)
    denials.add(account, "b1", CheckReason.EXCLUDED, clock.now())
    await denials.flush()
    assert await marks_of(conn) == [(account, clock.now())]


async def test_a_failed_flush_keeps_its_due_marks_and_does_not_count_them_as_made(
    conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account = uuid.uuid4()  # not created yet: the flush fails on its foreign key
    denials = Denials(pool, clock)
    denials.add(account, "b2", CheckReason.NOT_IN_TIER, clock.now())
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await denials.flush()
    await conn.execute("insert into accounts (id, name) values ($1, 'Late')", account)
    clock.at += timedelta(seconds=1)

    await denials.flush()

    assert await marks_of(conn) == [(account, NOW)]
