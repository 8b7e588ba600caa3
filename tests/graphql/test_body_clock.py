"""The body clock on its own, in one event loop: a read still waiting when its time ends
raises BodyTooSlow and leaves its task as it found it; a cancellation from elsewhere stays
a cancellation; reads that finish in time are untouched."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive

from benefitgate.graphql.body_clock import BodyClock, BodyTooSlow
from benefitgate.graphql.middleware import bounded

PART: Message = {"type": "http.request", "body": b"12345", "more_body": True}
LAST: Message = {"type": "http.request", "body": b"6", "more_body": False}


def stalled(*messages: Message) -> tuple[asyncio.Event, Receive]:
    """A `receive` that gives `messages`, then waits until the event is set."""
    given = list(messages)
    never = asyncio.Event()

    async def receive() -> Message:
        if given:
            return given.pop(0)
        await never.wait()
        return LAST

    return never, receive


async def test_a_read_still_waiting_when_its_time_ends_raises_body_too_slow() -> None:
    _, receive = stalled(PART)
    read = bounded(receive, 1_000, BodyClock(0.05))
    assert await read() == PART

    with pytest.raises(BodyTooSlow):
        await read()
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # its own cancellation taken back
    with pytest.raises(BodyTooSlow):  # and any read after: the time is over
        await read()


async def test_a_cancellation_from_elsewhere_is_not_taken_for_the_body_time() -> None:
    _, receive = stalled()
    read = bounded(receive, 1_000, BodyClock(30))
    waiting = asyncio.ensure_future(read())
    await asyncio.sleep(0.01)
    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_body_whole_in_time_is_read_and_then_nothing_is_timed() -> None:
    never, receive = stalled(PART)
    read = bounded(receive, 1_000, BodyClock(0.05))
    assert await read() == PART
    asyncio.get_running_loop().call_later(0.01, never.set)
    assert await read() == LAST
    await asyncio.sleep(0.1)  # past the time: the reading is over, nothing is cut

    never.clear()
    after = asyncio.ensure_future(read())  # waits for the client's going away, untimed
    await asyncio.sleep(0.1)
    assert not after.done()
    never.set()
    assert await after == LAST
