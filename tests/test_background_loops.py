"""The process's background loops outlive a connection the server ends under them: the
denials' flush, metering maintenance and event pruning each fail a round on it and do
their work at the next. asyncpg raises errors other than PostgresError for such a
connection, and a loop that let one escape ended for good, with nothing said until
shutdown (the webhook dispatcher's is in `tests/webhooks/test_dispatcher_faults.py`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.clock import FixedClock, SystemClock
from benefitgate.events import outbox, retention
from benefitgate.metering import maintenance
from benefitgate.metering.denials import Denials
from benefitgate.metering.models import CheckReason
from benefitgate.metering.partitions import Partitions
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.terminate import pool_ending_its_first_handout

# The terminated connection is dropped by the pool; asyncpg may warn when it is collected.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

ROUND_SECONDS = 0.05


async def _runs_until(loop: Coroutine[Any, Any, None], done: Callable[[], Awaitable[bool]]) -> None:
    """Run `loop` until `done`, at most 20 s; it must still be running then."""
    running = asyncio.create_task(loop)
    try:
        async with asyncio.timeout(20):
            while not await done():
                assert not running.done(), running.exception()
                await asyncio.sleep(ROUND_SECONDS)
        assert not running.done(), running.exception()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_the_denials_flush_goes_on_after_its_connection_is_ended(
    dsn: str, conn: asyncpg.Connection, clock: FixedClock
) -> None:
    catalog = await factories.catalog(conn)
    account = await factories.account(conn, catalog["versions"]["basic"])

    async with pool_ending_its_first_handout(dsn) as pool:
        denials = Denials(pool, clock)
        denials.add(account, "b2", CheckReason.NOT_IN_TIER, NOW)

        async def written() -> bool:
            return bool(await conn.fetchval("select count(*) from entitlement_denials"))

        await _runs_until(denials.run(ROUND_SECONDS), written)


async def test_event_pruning_goes_on_after_its_connection_is_ended(
    dsn: str, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "INTERVAL_SECONDS", ROUND_SECONDS)
    await outbox.enqueue(conn, "test.old", None, {})
    later = FixedClock(datetime.now(UTC) + timedelta(days=2))

    async def pruned() -> bool:
        return not await conn.fetchval("select count(*) from events")

    async with pool_ending_its_first_handout(dsn) as pool:
        await _runs_until(retention.run_hourly(pool, later, timedelta(days=1)), pruned)


async def test_metering_maintenance_goes_on_after_its_connection_is_ended(
    dsn: str, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "INTERVAL_SECONDS", ROUND_SECONDS)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await conn.execute(
        "insert into idempotency_keys values ('scope', 'old', 'op', '\\x00', '{}', $1)", long_ago
    )

    async def forgotten() -> bool:
        return not await conn.fetchval("select count(*) from idempotency_keys")

    async with pool_ending_its_first_handout(dsn) as pool:
        loop = maintenance.run_hourly(pool, Partitions(), SystemClock())
        await _runs_until(loop, forgotten)
