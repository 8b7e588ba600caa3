"""The accounts a request's own writes named in outbox events.

Every replica learns of a committed change from its listener, a moment after the commit.
The replica that made the change must not answer its caller from before it in that
moment: the mutation edge records the accounts its transaction enqueued events for
(`recording`), and after the commit drops what it derived from them before answering.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from uuid import UUID

__all__ = ["note", "recording"]

_written: ContextVar[set[UUID] | None] = ContextVar("benefitgate_written", default=None)


@contextlib.contextmanager
def recording() -> Iterator[set[UUID]]:
    """Collect the accounts of the events enqueued inside, in this task and those it
    starts."""
    written: set[UUID] = set()
    token = _written.set(written)
    try:
        yield written
    finally:
        _written.reset(token)


def note(account_ids: Iterable[UUID | None]) -> None:
    written = _written.get()
    if written is not None:
        written.update(a for a in account_ids if a is not None)
