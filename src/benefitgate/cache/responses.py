"""The response cache: the in-process tier in front of the shared one, the generation
check on every store, and the switches that keep the local tier out of use while this
process may be missing invalidations: its outbox listener down, or (with Redis) no lease
on the broadcasts (`cache.broadcasts`).

Keys are opaque strings (the GraphQL layer derives them); values are encoded responses.
Time comes from the injected clock, so answers that change with time alone expire in
tests as they do in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from benefitgate.cache.generations import Generations
from benefitgate.cache.local import Entry, LocalTier
from benefitgate.cache.shared import SharedTier, Stamp
from benefitgate.clock import Clock
from benefitgate.telemetry.metrics import CACHE_LOOKUPS

__all__ = ["ResponseCache", "Ticket"]

# Bound once: a label lookup per call would cost more than a hit in the local tier.
_COUNT = {
    (tier, hit): CACHE_LOOKUPS.labels("response", tier, "hit" if hit else "miss")
    for tier in ("process", "shared")
    for hit in (True, False)
}


@dataclass(frozen=True, slots=True)
class Ticket:
    """Where the invalidation sequences stood before a request read anything."""

    local: int
    shared: Stamp | None


class ResponseCache:
    def __init__(self, local: LocalTier, clock: Clock, shared: SharedTier | None = None) -> None:
        self.local = local
        self.shared = shared
        self._clock = clock
        self._generations = Generations()
        # False while this process's outbox listener is down and it may be missing
        # invalidations: the local tier is then neither read nor written, and it is
        # emptied when the listener is back. With Redis, the broadcasts' lease must hold
        # as well (`heard_until`), and the tier is emptied whenever it is taken anew.
        self._listening = True
        self._bus = None if shared is None else shared.broadcasts
        self.stored = self.refused = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def sequence(self) -> int:
        """How many invalidations this process has applied."""
        return self._generations.begin()

    @property
    def local_usable(self) -> bool:
        # On every hit: one attribute and one clock read beyond the listener's flag.
        return self._listening and (self._bus is None or time.monotonic() < self._bus.heard_until)

    async def lookup(self, key: str) -> Entry | None:
        found = await self.find(key)
        return found if isinstance(found, Entry) else None

    async def find(self, key: str) -> Entry | Ticket:
        """The fresh entry under `key`, or, when there is none, the ticket a store of the
        answer must carry (`begin`'s, taken here in the same round trip to Redis)."""
        now = self._clock.now()
        if self.local_usable:
            entry = self.local.get(key, now)
            _COUNT["process", entry is not None].inc()
            if entry is not None:
                return entry
        begun = self._generations.begin()
        if self.shared is None:
            return Ticket(begun, None)
        entry, stamp = await self.shared.lookup(key)
        fresh = entry is not None and entry.fresh_at(now)
        _COUNT["shared", fresh].inc()
        if entry is None or not fresh:
            return Ticket(begun, stamp)
        # Kept locally only if none of its tags was invalidated while it was fetched: that
        # invalidation may have dropped it from Redis just after it was read.
        if self.local_usable and self._generations.unchanged_since(begun, entry.tags):
            self.local.put(key, entry)
        return entry

    def local_hit(self, key: str) -> Entry | None:
        """The local tier's fresh entry under `key`, counted as a hit; None, counted
        nowhere, without one: the caller then looks the key up in full (`lookup`)."""
        if not self.local_usable:
            return None
        entry = self.local.hit(key, self._clock.now())
        if entry is not None:
            _COUNT["process", True].inc()
        return entry

    async def begin(self) -> Ticket:
        shared = None if self.shared is None else await self.shared.stamp()
        return Ticket(self._generations.begin(), shared)

    async def store(
        self, ticket: Ticket, key: str, body: bytes, tags: Iterable[str], until: datetime | None
    ) -> bool:
        """Keep `body` under `key` unless a tag was invalidated since `ticket` or it is
        already out of date; whether it was kept (in either tier)."""
        frozen = frozenset(tags)
        now = self._clock.now()
        if (until is not None and until <= now) or not self._generations.unchanged_since(
            ticket.local, frozen
        ):
            self.refused += 1
            return False
        entry = Entry(body, etag_of(body), frozen, until)
        kept = False
        if self.local_usable:
            self.local.put(key, entry)
            kept = True
        if self.shared is not None and ticket.shared is not None:
            kept = await self.shared.put(ticket.shared, key, entry, now) or kept
        self.stored += kept
        return kept

    async def invalidate(self, tags: Iterable[str]) -> None:
        """Drop everything filed under `tags` here and in the shared tier; a store begun
        before this call is refused."""
        tags = set(tags)
        if not tags:
            return
        self.invalidate_local(tags)
        if self.shared is not None:
            await self.shared.invalidate(tags)

    def invalidate_local(self, tags: Iterable[str]) -> None:
        """Drop `tags` from this process's tier only (another replica's broadcast, whose
        sender invalidated the shared tier itself)."""
        tags = set(tags)
        self._generations.invalidate(tags)
        self.local.drop_tags(tags)

    def invalidate_soon(self, tags: Iterable[str]) -> None:
        """`invalidate` from a synchronous callback: the local tier now, the shared tier
        in a task of its own."""
        tags = set(tags)
        self.invalidate_local(tags)
        if self.shared is not None:
            task = asyncio.get_running_loop().create_task(self.shared.invalidate(tags))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def invalidate_all_soon(self) -> None:
        """Everything may have changed: drop the local tier now and flush the shared one."""
        self._generations.invalidate_all()
        self.local.clear()
        if self.shared is not None:
            task = asyncio.get_running_loop().create_task(self.shared.flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def follow(self) -> None:
        """Apply other replicas' broadcasts to the local tier, holding the lease that lets
        it be used (`cache.broadcasts`). Runs until cancelled; nothing to do without
        Redis."""
        if self.shared is not None:
            await self.shared.broadcasts.follow(self._heard, self._subscribed)

    async def _heard(self, tags: list[str]) -> None:
        self.invalidate_local(tags)

    def _subscribed(self) -> None:
        """Subscribed again, or leased again after the lease ran out: broadcasts may have
        been missed meanwhile."""
        self._generations.invalidate_all()
        self.local.clear()

    def listener_down(self) -> None:
        """The outbox listener lost its connection: invalidations may be missed."""
        self._listening = False

    async def listener_back(self) -> None:
        """The listener resumed: forget every local entry (it may have missed events
        while down) and every shared one (so may every other replica)."""
        self._generations.invalidate_all()
        self.local.clear()
        self._listening = True
        if self.shared is not None:
            await self.shared.flush()

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self.local),
            "bytes": self.local.bytes,
            "hits": self.local.hits,
            "misses": self.local.misses,
            "evictions": self.local.evictions,
            "stored": self.stored,
            "refused": self.refused,
            **({} if self.shared is None else self.shared.stats()),
        }


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
