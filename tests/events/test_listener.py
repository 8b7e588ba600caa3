"""The outbox listener's life cycle (what it may read is in test_readable)."""

from __future__ import annotations

import asyncio

from benefitgate.events.listener import OutboxListener
from benefitgate.events.outbox import NewEvents


async def test_stopping_as_a_notification_arrives_still_stops(dsn: str) -> None:
    """A replica shutting down while events flow: the wake-up and the cancellation land in
    the same turn of the loop. Python 3.11's `asyncio.wait_for` returns the finished wait
    and drops such a cancellation, so the listener kept following and shutdown hung."""

    async def on_events(new: NewEvents) -> None:
        pass

    listener = OutboxListener(dsn, on_events, poll_seconds=30)
    await listener.start()
    await asyncio.sleep(0.05)  # the listener waits for a wake-up
    listener._notified()  # what a NOTIFY calls; stop() cancels in the same turn
    stopping = asyncio.ensure_future(listener.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    if not done:
        stopping.cancel()  # stop() cancels the listener again, which then ends
        await asyncio.wait({stopping})
    assert done, "the listener did not stop"
