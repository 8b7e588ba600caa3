"""The live subscription's direct path to its socket, when the transport gives it one.

The WebSocket transport of the fast path (`graphql.fast.delivery`) sets a delivery for each
operation, in the operation's own task; the subscription's resolver sends each event
through it, and yields the event to graphql-core only when there is none or it declines.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from benefitgate.feed.types import Event

__all__ = ["DirectDelivery", "current", "use"]


class DirectDelivery(Protocol):
    async def send(self, event: Event) -> bool:
        """Send the event's `next` frame; False when it must take the stock path."""
        ...


_current: ContextVar[DirectDelivery | None] = ContextVar("benefitgate_live_delivery", default=None)


def current() -> DirectDelivery | None:
    return _current.get()


def use(delivery: DirectDelivery) -> None:
    """Called in the operation's own task, before it runs."""
    _current.set(delivery)
