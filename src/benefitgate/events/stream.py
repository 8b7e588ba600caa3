"""One subscriber's event stream: replay from the outbox after a cursor, then live events
from the hub, with no gap and no repeat at the hand-over.

The hand-over: catch up from the outbox without a queue, register with the hub (which
fixes `start`, the last event it published), read the outbox on up to `start`, then take
live events, dropping any at or before the last position delivered. The hub delivers every
event after `start` and the outbox holds every event up to it, so nothing falls between.
Positions advance over events the subscriber does not want, so a resume skips them too.

A stream that falls behind (its queue overflowed: the hub drops it as a slow consumer)
catches up from the outbox after the last position it delivered, at the pace its reader
takes pages, then registers again: one transaction of more events than a queue holds
closed every stream that heard it, however fast each read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass

import asyncpg

from benefitgate.events import outbox as events
from benefitgate.events import retention
from benefitgate.events.hub import CloseReason, Hub, Interest, Subscriber, SubscriberClosed
from benefitgate.events.outbox import Cursor, Event, Reader

__all__ = ["Closed", "Expired", "follow"]

_PAGE = 500


@dataclass(frozen=True, slots=True)
class Closed:
    """The stream ends here; resume with `after = resume_after`."""

    reason: CloseReason
    resume_after: Cursor


@dataclass(frozen=True, slots=True)
class Expired:
    """The cursor is older than the retention horizon: events after it were pruned."""

    horizon: Cursor


Item = Event | Closed | Expired


class _Replay:
    """Pages of the outbox after a position, scoped and filtered for one subscriber."""

    def __init__(self, pool: asyncpg.Pool, reader: Reader, interest: Interest) -> None:
        self._pool = pool
        self._scope = reader.scope
        self._interest = interest

    async def page(self, after: Cursor, until: Cursor | None) -> tuple[list[Event], Cursor, bool]:
        """Wanted events after `after` (up to `until`), the position reached, and whether
        the outbox may hold more. Raises CursorExpired if events after `after` were pruned."""
        async with self._pool.acquire() as conn:
            batch = await events.read_feed(conn, after, _PAGE, self._scope)
            await retention.check_cursor(conn, after)
        if until is not None:
            batch = [e for e in batch if e.cursor <= until]
        reached = batch[-1].cursor if batch else after
        more = len(batch) == _PAGE
        return [e for e in batch if self._interest.wants(e)], reached, more


async def follow(
    pool: asyncpg.Pool, hub: Hub, reader: Reader, interest: Interest, after: Cursor | None
) -> AsyncGenerator[Item, None]:
    """Events the reader may see and asked for, in cursor order (so in order per account),
    at least once. Starts live when `after` is None. Ends with `Closed` or `Expired`."""
    replay = _Replay(pool, reader, interest)
    position = hub.cursor if after is None else after
    try:
        more = after is not None
        while True:
            while more:  # catch up before joining, so a long replay cannot overflow the queue
                ended = hub.ended(reader)
                if ended is not None:  # its credential ended during the replay
                    yield Closed(ended, position)
                    return
                wanted, position, more = await replay.page(position, None)
                for event in wanted:
                    yield event
            subscriber = hub.subscribe(reader, interest)
            try:
                # Closed as it joined (its key revoked during the replay): nothing more.
                while position < subscriber.start and subscriber.closed is None:
                    wanted, reached, _ = await replay.page(position, subscriber.start)
                    for event in wanted:
                        yield event
                    position = subscriber.start if reached == position else reached
                async for event in _live(subscriber, position):
                    position = event.cursor
                    yield event
            except SubscriberClosed as closed:
                if closed.reason is not CloseReason.SLOW_CONSUMER:
                    yield Closed(closed.reason, position)
                    return
                more = True  # fell behind: catch up from the outbox, then join again
            finally:
                hub.unsubscribe(subscriber)
    except retention.CursorExpired as expired:
        yield Expired(expired.horizon)


async def _live(subscriber: Subscriber, position: Cursor) -> AsyncIterator[Event]:
    while True:
        for event in _after(await subscriber.take(), position):
            position = event.cursor
            yield event


def _after(batch: Iterable[Event], position: Cursor) -> Iterable[Event]:
    return (e for e in batch if e.cursor > position)
