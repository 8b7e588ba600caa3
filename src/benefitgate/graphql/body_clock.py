"""The time a request body may take to arrive (`BENEFITGATE_BODY_SECONDS`).

uvicorn waits for a body as long as its connection is open: a client that sent headers
and part of a body, then nothing, held its connection and a request task for ever. A body
not whole `seconds` after the service first asked for it is answered 408 by the edge.

The reads share their timers. A body's time ends at the end of the tick it falls in (a
tenth of the time allowed), and one timer per tick ends the reads still waiting then: at
most a tenth late, for 1.2 µs a request whose body is there at once (asyncio.timeout around
each read cost 4.6 µs, a timer of its own 2.2 µs; measured with a `receive` that answers
at once, against the same wrapper without a clock).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from starlette.responses import Response

from benefitgate.graphql.responses import error_response

__all__ = ["TICKS", "BodyClock", "BodyTooSlow", "Reading", "body_too_slow"]

TICKS = 10  # a time allowed is ended in ticks of this fraction of it


class BodyTooSlow(Exception):
    """A body not whole in its time: the edge answers 408."""


def body_too_slow(seconds: float) -> Response:
    """408 (RFC 9110, 15.5.9) with `Connection: close`: the rest of the body may still come,
    and would be read as the next request."""
    return error_response(
        408,
        f"the request body did not arrive whole within {seconds:g} seconds",
        "REQUEST_TIMEOUT",
        {"Connection": "close"},
    )


class _Tick:
    __slots__ = ("ended", "waiting")

    def __init__(self) -> None:
        self.ended = False
        self.waiting: set[Reading] = set()


class Reading:
    """One request's body being read: the tick its time ends in, and its task."""

    __slots__ = ("_task", "_tick", "expired")

    def __init__(self, tick: _Tick, task: asyncio.Task[Any]) -> None:
        self._tick, self._task = tick, task
        self.expired = False

    def waiting(self) -> None:
        """Before awaiting the next part of the body. Raises BodyTooSlow past its time."""
        if self._tick.ended:
            raise BodyTooSlow
        self._tick.waiting.add(self)

    def arrived(self) -> None:
        """After the await, whatever it ended with."""
        self._tick.waiting.discard(self)

    def cut(self, cancelled: asyncio.CancelledError) -> None:
        """The await was cancelled: re-raised unless its time cancelled it alone (then the
        caller raises BodyTooSlow)."""
        if not self.expired or self._task.uncancel():
            raise cancelled

    def expire(self) -> None:
        self.expired = True
        self._task.cancel()


class BodyClock:
    """The ticks of one event loop, each with the reads whose time ends with it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._length = seconds / TICKS
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticks: dict[int, _Tick] = {}

    def start(self) -> Reading:
        """A body's reading, its time starting now; in the request's task."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # another loop's timers never fire in this one
            self._loop, self._ticks = loop, {}
        at = math.ceil((loop.time() + self.seconds) / self._length)
        tick = self._ticks.get(at)
        if tick is None:
            tick = self._ticks[at] = _Tick()
            loop.call_at(at * self._length, self._end, at, tick)
        task = asyncio.current_task()
        assert task is not None, "a request runs in a task"
        return Reading(tick, task)

    def _end(self, at: int, tick: _Tick) -> None:
        if self._ticks.get(at) is tick:
            del self._ticks[at]
        tick.ended = True
        for reading in tick.waiting:
            reading.expire()
        tick.waiting.clear()
