"""Fan-out of outbox events to the live subscribers of this process.

The process's one `OutboxListener` hands every batch to `Hub.publish`, in cursor order.
Each subscriber has a bounded queue, and publishing never waits for a subscriber: one whose
queue would overflow is closed as a slow consumer, and its stream catches up from the
outbox (`events.stream`), so a slow subscriber never stalls the others. Access is checked
per event, against the partners that manage the account as the listener read the batch
(in the same statement).

A subscriber ends when its credential does: an API key's revocation closes those of that
key, and a subscriber that joins after it (its replay began before) is closed as it joins;
a token's expiry closes its subscribers at the next batch, or at the next `expire` (the
app calls it every second), whichever comes first, so a quiet stream ends too. A stream
still replaying from the outbox asks `ended` before each page, and ends by the same rules.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from benefitgate.clock import Clock
from benefitgate.events.outbox import (
    Cursor,
    Event,
    Reader,
    internal_only,
    other_partners_link,
    own_unlink_of,
)
from benefitgate.telemetry import metrics

__all__ = ["CloseReason", "Hub", "Interest", "Subscriber", "SubscriberClosed"]

_NO_PARTNERS: frozenset[UUID] = frozenset()


class CloseReason(enum.Enum):
    SLOW_CONSUMER = "SLOW_CONSUMER"  # its queue overflowed; its stream catches up itself
    SHUTTING_DOWN = "SHUTTING_DOWN"  # this process is stopping; resume on another
    UNAUTHENTICATED = "UNAUTHENTICATED"  # its API key was revoked; do not retry with it
    CREDENTIAL_EXPIRED = "CREDENTIAL_EXPIRED"  # resume with a fresh credential

    @property
    def retryable(self) -> bool:
        """Whether subscribing again with the same credential can succeed."""
        return self in (CloseReason.SLOW_CONSUMER, CloseReason.SHUTTING_DOWN)


class SubscriberClosed(Exception):
    def __init__(self, reason: CloseReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Interest:
    """What a subscriber asked for: some accounts (None: all it may see) and some types."""

    accounts: frozenset[UUID] | None = None
    types: frozenset[str] | None = None

    def wants(self, event: Event) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        if self.accounts is None:
            return True
        return event.account_id is not None and event.account_id in self.accounts


Audience = tuple[str, UUID | None]  # who a reader hears: ("all", None), an account, a partner
_EVERYONE: Audience = ("all", None)


def audience(reader: Reader) -> Audience:
    """The index key under which a subscriber waits; it encodes the reader's scope:
    internal callers see every account, a frontend its own, a partner those it manages."""
    scope = reader.scope
    if scope.everything:
        return _EVERYONE
    if scope.account_id is not None:
        return ("account", scope.account_id)
    return ("partner", scope.partner_id)


class Subscriber:
    """One live subscription's queue. `start` is the hub's position when it registered:
    every event after it reaches this queue, unless the subscriber is closed."""

    def __init__(self, reader: Reader, interest: Interest, capacity: int, start: Cursor) -> None:
        self.reader = reader
        self.interest = interest
        self.start = start
        self.closed: CloseReason | None = None
        self._capacity = capacity
        self._queue: deque[Event] = deque()
        self._wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Queue an event the reader may see, if it is wanted; never waits."""
        if self.closed is not None or not self.interest.wants(event):
            return
        if len(self._queue) >= self._capacity:
            self.close(CloseReason.SLOW_CONSUMER)
            return
        self._queue.append(event)
        self._wake.set()

    @property
    def depth(self) -> int:
        """Events queued, not yet taken."""
        return len(self._queue)

    def close(self, reason: CloseReason) -> None:
        if self.closed is None:
            metrics.LIVE_CLOSED.labels(reason.value).inc()
            self.closed = reason
            self._queue.clear()  # the client resumes from its cursor; nothing queued is owed
            self._wake.set()

    async def take(self) -> list[Event]:
        """Wait for queued events and return them all, oldest first; raise SubscriberClosed
        once the subscriber is closed."""
        while not self._queue and self.closed is None:
            self._wake.clear()
            await self._wake.wait()
        if self.closed is not None:
            raise SubscriberClosed(self.closed)
        taken = list(self._queue)
        self._queue.clear()
        return taken


class Hub:
    """The live subscribers of one process, fed by its outbox listener. Subscribers are
    indexed by audience, so an event costs work only for those who may see it."""

    def __init__(self, *, capacity: int, start: Cursor) -> None:
        self._capacity = capacity
        self._by_audience: dict[Audience, set[Subscriber]] = defaultdict(set)
        # Subscribers whose credential expires, soonest first (the counter breaks ties).
        # One that unsubscribed stays until its expiry, when closing it is a no-op.
        self._expiring: list[tuple[datetime, int, Subscriber]] = []
        self._order = itertools.count()
        # Subjects (`key:<id>`) of the keys revoked while this process ran: a subscriber of
        # one, whose replay began before the revocation, is closed as it joins.
        self._revoked: set[str] = set()
        self._now: datetime | None = None  # the latest instant expiries were checked at
        self.cursor = start  # the last event published; later ones reach new subscribers

    def __len__(self) -> int:
        return sum(len(group) for group in self._by_audience.values())

    def depths(self) -> list[int]:
        """The queue length of each subscriber, for the metrics."""
        return [s.depth for s in self._all()]

    def subscribe(self, reader: Reader, interest: Interest) -> Subscriber:
        """Register, synchronously: no batch can be published between reading the hub's
        position and joining, so `start` is exact."""
        subscriber = Subscriber(reader, interest, self._capacity, self.cursor)
        if reader.subject in self._revoked:
            subscriber.close(CloseReason.UNAUTHENTICATED)
        self._by_audience[audience(reader)].add(subscriber)
        if reader.expires_at is not None:
            entry = (reader.expires_at, next(self._order), subscriber)
            heapq.heappush(self._expiring, entry)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        key = audience(subscriber.reader)
        group = self._by_audience.get(key)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._by_audience[key]

    def publish(
        self,
        batch: Sequence[Event],
        partners: Mapping[UUID, frozenset[UUID]],
        now: datetime,
        reached: Cursor | None = None,
    ) -> None:
        """Queue a batch for every subscriber that wants and may see each event, in cursor
        order, given the partners that manage each event's account; subscribers whose
        credential expired by `now` are closed first. A batch the listener hands over again
        (after a failure further on) is not queued twice. Nothing here awaits: the batch
        reaches exactly the subscribers registered before `cursor` moves past it, and later
        ones replay it from the outbox. `reached`: the listener's look went that far,
        passing over events among the batch's (read while nobody subscribed); the cursor
        moves past them too. Unless someone subscribed since, who is owed them: the
        listener then hands the look over again in full, and nothing of this batch is
        queued now (a later event queued first would move the cursor past one passed over
        before it, which the full batch would then not queue)."""
        self._close_expired(now)
        if reached is not None and self._by_audience:
            return
        # A batch comes in cursor order: when its first event is new, all are (comparing
        # each event's cursor cost a busy ingest 0.6 % of its samples).
        if batch and batch[0].cursor > self.cursor:
            fresh = batch
        else:
            fresh = [e for e in batch if e.cursor > self.cursor]
        # With no subscriber, nobody's audience: ingest's usage.recorded events (one per
        # account of a batch) cost 2 % of a busy service's samples to find it empty.
        for event in fresh if self._by_audience else ():
            for subscriber in self._audience_of(event, partners):
                subscriber.offer(event)
        if fresh:
            self.cursor = fresh[-1].cursor
        if reached is not None and reached > self.cursor:
            self.cursor = reached
        self._close_revoked(fresh)

    def _audience_of(
        self, event: Event, partners: Mapping[UUID, frozenset[UUID]]
    ) -> Iterator[Subscriber]:
        """Everyone may see a global event (no account), as in the polling feed, except the
        internal ones (`outbox.internal_only`)."""
        if event.account_id is None:
            if internal_only(event.type, None):
                yield from self._by_audience.get(_EVERYONE, ())
            else:
                yield from self._all()
            return
        keys = [_EVERYONE, ("account", event.account_id)]
        keys += [
            ("partner", p)
            for p in partners.get(event.account_id, _NO_PARTNERS)
            if not other_partners_link(event, p)
        ]
        unlinked = own_unlink_of(event)  # no longer among the account's partners
        if unlinked is not None and ("partner", unlinked) not in keys:
            keys.append(("partner", unlinked))
        for key in keys:
            yield from self._by_audience.get(key, ())

    def _all(self) -> list[Subscriber]:
        return [s for group in self._by_audience.values() for s in group]

    def expire(self, now: datetime) -> None:
        """Close the subscribers whose credential expired by `now`, with no batch to
        publish: without it, a stream that heard nothing stayed open past its token."""
        self._close_expired(now)

    async def expire_every(self, clock: Clock, seconds: float) -> None:
        """`expire` every `seconds` at the clock's now, until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            self.expire(clock.now())

    def ended(self, reader: Reader) -> CloseReason | None:
        """Why a stream of `reader` must end now, if it must: its key was revoked, or its
        credential expired by the latest `expire` or batch (for a stream not subscribed
        yet, still replaying from the outbox)."""
        if reader.subject in self._revoked:
            return CloseReason.UNAUTHENTICATED
        expires = reader.expires_at
        if expires is not None and self._now is not None and expires <= self._now:
            return CloseReason.CREDENTIAL_EXPIRED
        return None

    def _close_expired(self, now: datetime) -> None:
        self._now = now
        while self._expiring and self._expiring[0][0] <= now:
            _, _, subscriber = heapq.heappop(self._expiring)
            subscriber.close(CloseReason.CREDENTIAL_EXPIRED)

    def _close_revoked(self, batch: Sequence[Event]) -> None:
        revoked = {f"key:{e.payload.get('key_id')}" for e in batch if e.type == "api_key.revoked"}
        if revoked:
            self._revoked |= revoked
            for subscriber in self._all():
                if subscriber.reader.subject in revoked:
                    subscriber.close(CloseReason.UNAUTHENTICATED)

    def close(self) -> None:
        """Close every subscriber as the process stops, so clients resume elsewhere."""
        for subscriber in self._all():
            subscriber.close(CloseReason.SHUTTING_DOWN)
        self._by_audience.clear()
        self._expiring.clear()
