"""A request's statements run on one pooled connection, checked out once."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import pytest

from benefitgate.api.context import RequestConnection
from benefitgate.db import create_pool
from tests.conftest import MakeApi, api_key
from tests.fixtures import factories
from tests.fixtures.statements import StatementLog
from tests.views.test_statement_count import PAGE, VIEW


async def test_blocks_of_a_request_share_one_checkout_even_when_concurrent(
    pool: asyncpg.Pool,
) -> None:
    db = RequestConnection(pool, hold=True)
    idle = pool.get_idle_size()
    seen: list[int] = []

    async def block() -> None:
        async with db.acquire() as conn:
            seen.append(await conn.fetchval("select pg_backend_pid()"))

    await block()
    await asyncio.gather(*(block() for _ in range(5)))
    assert len(set(seen)) == 1
    assert pool.get_idle_size() == idle - 1  # one connection out, for the whole request
    await db.release()
    assert pool.get_idle_size() == idle
    await block()  # after the release, a block checks out and back on its own
    assert pool.get_idle_size() == idle


async def test_a_block_nested_in_another_of_the_same_task_is_refused(pool: asyncpg.Pool) -> None:
    db = RequestConnection(pool, hold=True)
    async with db.acquire():
        with pytest.raises(RuntimeError, match="nested"):
            async with db.acquire():
                pass  # pragma: no cover
    await db.release()


async def test_a_release_during_a_block_returns_the_connection_when_it_ends(
    pool: asyncpg.Pool,
) -> None:
    db = RequestConnection(pool, hold=True)
    idle = pool.get_idle_size()
    async with db.acquire() as conn:
        await db.release()
        assert await conn.fetchval("select 1") == 1  # still this block's to use
    assert pool.get_idle_size() == idle


async def test_every_statement_of_a_view_runs_on_the_connection_the_request_checked_out(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=4, pool_max=4) as api:
        await api.data(VIEW, {"id": str(account)}, auth=key)  # warm: catalog, key, types
        log.clear()
        await api.data(VIEW, {"id": str(account)}, auth=key)
        await api.data(PAGE, auth=key)
        view_and_page = Counter(log.connections)

    # Two requests, each on one connection (possibly the same one twice); before, a view
    # took two checkouts and the page up to six at once.
    assert sum(view_and_page.values()) == 1 + 10  # tests/views/test_statement_count.py
    assert len(view_and_page) <= 2


async def test_a_release_runs_no_statement_and_rolls_back_an_open_transaction(
    dsn: str,
) -> None:
    statements: list[str] = []

    async def attach(pooled: asyncpg.Connection) -> None:
        pooled.add_query_logger(lambda r: statements.append(r.query))

    pool = await create_pool(dsn, min_size=1, max_size=1, on_connect=attach)
    try:
        async with pool.acquire() as conn:
            await conn.execute("select 1")
        await asyncio.sleep(0)  # asyncpg calls its query loggers a turn of the loop later
        assert statements == ["select 1"]  # asyncpg's default reset would follow it
        conn = await pool.acquire()
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("create temporary table left_open (x int)")
        await pool.release(conn)  # as a request cut off mid-transaction would
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("select to_regclass('pg_temp.left_open')") is None
    finally:
        await pool.close()
