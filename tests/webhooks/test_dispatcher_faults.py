"""The dispatcher's loop outlives a connection the server ends under it. For one
terminated just after the pool handed it out, asyncpg raises InterfaceError ("released
back to the pool"), InternalClientError ("cannot switch to state"), or, from the pool's
own release, AttributeError: none a PostgresError, and the loop that ended on them sent
nothing more from that replica, without a word, until it restarted."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from benefitgate.clock import SystemClock
from benefitgate.events import outbox as events
from benefitgate.webhooks import repository
from benefitgate.webhooks.delivery import Sender
from benefitgate.webhooks.dispatcher import Dispatcher, DispatchSettings
from benefitgate.webhooks.signing import SecretBox, new_secret
from tests.fixtures.terminate import pool_ending_its_first_handout
from tests.fixtures.webhooks import WEBHOOK_KEY, Receiver, eventually

# The terminated connection is dropped by the pool; asyncpg may warn when it is collected.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


async def _register(conn: asyncpg.Connection, url: str) -> None:
    box = SecretBox(WEBHOOK_KEY)
    start = await events.tail_cursor(conn)
    sealed = box.seal(new_secret())
    now = datetime.now(UTC)
    await repository.insert(conn, None, url, "", None, None, sealed, start, now)


async def test_the_dispatcher_goes_on_after_its_connection_is_ended_under_it(
    dsn: str, conn: asyncpg.Connection
) -> None:
    receiver = Receiver()
    settings = DispatchSettings(
        owner="test",
        retry_base=timedelta(seconds=0.05),
        lease=timedelta(seconds=5),
        poll_seconds=0.05,
    )
    async with (
        receiver.serving(),
        pool_ending_its_first_handout(dsn) as pool,
        aiohttp.ClientSession() as session,
    ):
        await _register(conn, receiver.url())
        event = await events.enqueue(conn, "test.n", None, {"n": 1})
        sender = Sender(session, frozenset({"127.0.0.1"}), dev_mode=False)
        dispatcher = Dispatcher(pool, SystemClock(), sender, SecretBox(WEBHOOK_KEY), settings)
        running = asyncio.create_task(dispatcher.run())
        try:
            delivered = await eventually(lambda: len(receiver.received) >= 1, 10)
            assert not running.done(), running.exception()
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    assert delivered
    assert [r.webhook_id for r in receiver.received] == [str(event)]
