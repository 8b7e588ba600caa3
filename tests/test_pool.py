"""The service's pool: Postgres cancels a statement that runs away."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from asgi_lifespan import LifespanManager

from benefitgate import app as app_module
from benefitgate import db
from benefitgate.clock import FixedClock
from benefitgate.config import Settings


async def test_a_pooled_statement_past_the_limit_is_cancelled(
    dsn: str, settings: Settings, clock: FixedClock
) -> None:
    # A usage series from 0001-01-01 once generated rows until the disk was full: whatever
    # the next runaway statement is, it ends as an error, releasing its connection.
    app = app_module.create_app(replace(settings, statement_seconds=0.2), dsn, clock=clock)
    async with LifespanManager(app):
        pool = app.state.benefitgate.pool
        assert await pool.fetchval("show statement_timeout") == "200ms"
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.fetchval("select pg_sleep(2)")
        assert await pool.fetchval("select 1") == 1


def _raised_from(error: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException:
            raise error  # noqa: B904 (the implicit context is what is tested)
    except BaseException as chained:
        return chained


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle"), True),
        (asyncpg.CannotConnectNowError("the database system is shutting down"), True),
        (asyncpg.AdminShutdownError("terminating connection"), True),
        (asyncpg.TooManyConnectionsError("too many clients"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (asyncpg.InterfaceError("pool is closing"), True),
        (asyncpg.InternalClientError("cannot switch to state 12; another operation"), True),
        (
            _raised_from(
                asyncpg.InterfaceError("cannot call Transaction.rollback(): bad state"),
                asyncpg.ConnectionDoesNotExistError("closed in the middle of operation"),
            ),
            True,
        ),
        (asyncpg.QueryCanceledError("canceling statement due to statement timeout"), False),
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (
            asyncpg.InterfaceError("cannot call Connection.fetch(): released back to the pool"),
            False,
        ),
        (ValueError("a bug"), False),
        (None, False),
    ],
)
def test_errors_that_say_the_database_is_unavailable(
    error: BaseException | None, says: bool
) -> None:
    assert db.unavailable(error) is says


async def test_a_serving_process_collects_young_objects_less_often(
    dsn: str, settings: Settings, clock: FixedClock
) -> None:
    """Full collections, which scan every snapshot and cached entry, were the checks' p99
    (`app.GC_THRESHOLDS`): the serving process sets its thresholds once it has started."""
    gc.set_threshold(700, 10, 10)
    try:
        async with LifespanManager(app_module.create_app(settings, dsn, clock=clock)):
            assert gc.get_threshold() == app_module.GC_THRESHOLDS
            assert app_module.GC_THRESHOLDS[0] > 700
    finally:
        gc.set_threshold(*app_module.GC_THRESHOLDS)


async def test_every_connection_counts_dates_in_utc_whatever_the_database_s_time_zone(
    conn: asyncpg.Connection, dsn: str
) -> None:
    name = await conn.fetchval("select current_database()")
    # 20:00 UTC on New Year's Eve is already 1 January in Kathmandu (+05:45).
    await conn.execute(f"alter database \"{name}\" set timezone to 'Asia/Kathmandu'")
    day = "select '2026-12-31T20:00:00Z'::timestamptz::date::text"
    try:
        own = await db.connect(dsn)
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        try:
            assert await own.fetchval(day) == "2026-12-31"
            assert await pool.fetchval(day) == "2026-12-31"
            assert await pool.fetchval("show timezone") == "UTC"
            plain = await asyncpg.connect(dsn)  # what the database gives a session otherwise
            assert await plain.fetchval(day) == "2027-01-01"
            await plain.close()
        finally:
            await own.close()
            await pool.close()
    finally:
        await conn.execute(f'alter database "{name}" reset timezone')


async def _tasks_made_by(action: Callable[[], Awaitable[None]]) -> int:
    """How many tasks `action` starts (asyncpg's release shields its work in one)."""
    loop = asyncio.get_running_loop()
    made = 0
    before = loop.get_task_factory()

    def counted(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counted)
    try:
        await action()
    finally:
        loop.set_task_factory(before)
    return made


async def test_a_clean_connection_goes_back_to_the_pool_without_a_task_of_its_own(
    dsn: str,
) -> None:
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        conn = await pool.acquire()
        backend = await conn.fetchval("select pg_backend_pid()")
        assert await _tasks_made_by(lambda: pool.release(conn)) == 0
        assert pool.get_idle_size() == 1
        async with pool.acquire() as again:  # the same connection, and usable
            assert await again.fetchval("select pg_backend_pid()") == backend
    finally:
        await pool.close()


async def test_an_expired_connection_is_closed_on_release_and_replaced(dsn: str) -> None:
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        conn = await pool.acquire()
        backend = await conn.fetchval("select pg_backend_pid()")
        await pool.expire_connections()
        await pool.release(conn)
        async with pool.acquire() as again:
            assert await again.fetchval("select pg_backend_pid()") != backend
    finally:
        await pool.close()
