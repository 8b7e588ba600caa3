"""Metric checks read their counters in shared statements: each check gets its own
counter's value, never one older than the check, and a failed or abandoned read touches
no other check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from benefitgate import db
from benefitgate.metering.counter_reads import CounterReads
from tests.conftest import MakeApi, api_key
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import CHECK
from tests.fixtures.statements import StatementLog

PERIOD = NOW - timedelta(days=10)  # the factories' subscription period start


async def _account_using(conn: asyncpg.Connection, used: float) -> UUID:
    """An account on the basic tier whose m0 counter this period stands at `used`."""
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await factories.usage(conn, account, "m0", used)
    return account


@pytest.fixture
async def reads(dsn: str) -> AsyncIterator[CounterReads]:
    """Counter reads on a pool of one connection of their own, as the app makes them."""
    reads = CounterReads(await db.create_pool(dsn, min_size=0, max_size=1))
    yield reads
    await reads.close()


async def test_concurrent_metric_checks_each_read_their_own_counter_in_fewer_statements(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(24)]
    for used, account in enumerate(accounts):
        if used:  # the first has no counter row at all: it reads as 0
            await factories.usage(conn, account, "m0", used)
    key, log = await api_key(conn), StatementLog()
    async with make_api(on_connect=log.attach) as api:

        async def remaining(account: UUID) -> float:
            data = await api.data(CHECK, {"id": str(account), "metric": "m0"}, auth=key)
            value: float = data["entitlementCheck"]["remaining"]
            return value

        limit = await remaining(accounts[0])
        log.statements.clear()
        # Each account three times over, interleaved: the batches mix accounts and repeats.
        answers = await asyncio.gather(*(remaining(a) for a in accounts * 3))

    assert answers == [limit - used for used in range(len(accounts))] * 3
    reads = [s for s in log.statements if "jsonb_array_elements" in s and "usage_counters" in s]
    assert 0 < len(reads) < len(answers)


async def test_a_check_reads_every_change_committed_before_it_asked(
    conn: asyncpg.Connection, pool: asyncpg.Pool, reads: CounterReads
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    others = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(8)]
    await factories.usage(conn, account, "m0", 0)

    async def keep_the_reader_busy(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.gather(*(reads.value(o, "m0", PERIOD) for o in others))

    async def write_then_read() -> None:
        for written in range(1, 201):
            await pool.execute(
                "update usage_counters set value = $2 where account_id = $1", account, written
            )
            # A read that joined a statement already under way would miss this write.
            assert await reads.value(account, "m0", PERIOD) == written

    stop = asyncio.Event()
    busy = [asyncio.create_task(keep_the_reader_busy(stop)) for _ in range(4)]
    try:
        await write_then_read()
    finally:
        stop.set()
        await asyncio.gather(*busy)


async def test_a_failed_read_fails_its_own_batch_and_the_next_one_reads(
    conn: asyncpg.Connection, reads: CounterReads
) -> None:
    account = await _account_using(conn, 7)

    # Text Postgres cannot hold fails the statement that carries it, and so its batch.
    failed = await asyncio.gather(
        reads.value(account, "m0", PERIOD),
        reads.value(account, "m\x000", PERIOD),
        return_exceptions=True,
    )
    assert all(isinstance(f, asyncpg.PostgresError) for f in failed)
    assert await reads.value(account, "m0", PERIOD) == 7


async def test_a_check_that_goes_away_leaves_the_others_their_answers(
    conn: asyncpg.Connection, reads: CounterReads
) -> None:
    account = await _account_using(conn, 3)

    leaving = asyncio.create_task(reads.value(account, "m0", PERIOD))
    staying = [asyncio.create_task(reads.value(k, "m0", PERIOD)) for k in (account, uuid4())]
    await asyncio.sleep(0)  # all three wait in one batch
    leaving.cancel()

    assert await asyncio.gather(*staying) == [3, 0]
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_a_read_after_its_connection_died_takes_another(
    conn: asyncpg.Connection, reads: CounterReads
) -> None:
    account = await _account_using(conn, 5)
    assert await reads.value(account, "m0", PERIOD) == 5

    await conn.execute(  # as a Postgres restart or a failover would
        """select pg_terminate_backend(pid) from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid()"""
    )
    with pytest.raises(
        (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
    ):
        await reads.value(account, "m0", PERIOD)  # the check that met the dead connection
    assert await reads.value(account, "m0", PERIOD) == 5
