"""The broadcast that tells every replica's local tier what a write invalidated before
the write answers, and the lease without which a replica keeps its local tier out of use.

A broadcast is a message on a Redis channel, and pub/sub keeps nothing for a subscriber
that is not there: a replica whose subscription dropped misses what is published until it
subscribes again. So a replica holds a lease (`replicas`: a sorted set of replica ids
scored by expiry, in Redis's time) and uses its local tier only within it:

- it renews the lease by a PING through its subscription: the PONG comes back after every
  message published before the PING, all of them applied by then; the lease is then
  renewed, and the local tier may be used until the PING's moment plus the lease
  (`heard_until`), which ends no later than the lease Redis holds;
- when its subscription fails it stops using the local tier at once and leaves the set;
  after subscribing again, or after its lease ran out, it empties the tier (renewed first,
  so that any write it did not hear committed before) before using it again;
- a writer publishes and reads the set in one script, then waits until every replica
  listed has confirmed, or has left the set, or a lease has passed (by then the local tier
  of any replica that missed the message is out of use). A writer whose publish fails
  tries again until it has failed for a whole lease since this process lost Redis: a stall
  or a restart shorter than that delays the write, and a replica that could not reach
  Redis for longer has seen its lease run out (and empties its tier).

A replica that can reach Redis while the writer cannot, for more than a lease, is beyond
this: it hears the write from its outbox listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, Protocol, TypeVar

import orjson
import redis.asyncio as redis

__all__ = ["Broadcasts", "OnFresh", "OnTags", "Tier"]

T = TypeVar("T")


class Tier(Protocol):
    """What the broadcasts use of the shared tier (`cache.shared.SharedTier`), which holds
    them: its client and prefix, its guarded calls and their failures."""

    client: redis.Redis
    prefix: str
    closed: bool
    failures: int
    down_since: float | None

    async def call(
        self, call: Callable[[], Awaitable[T]], seconds: float = ..., always: bool = ...
    ) -> T | None: ...


log = logging.getLogger(__name__)

_RENEWALS = 4  # renewals a lease: one may be late without the lease running out
_POLL = 0.05  # seconds between looks at the set while a listed replica has not confirmed
_PAUSE = 1.0  # seconds before subscribing again after a failure

# Leases are dropped from the set a lease after they lapsed by Redis's clock, not at once:
# a replica times its use of the local tier by its own monotonic clock, and Redis's wall
# clock may step forward (NTP, a VM resumed), which would drop a lease still running. A
# writer waits at most a lease for a listed replica either way.

# ARGV: set, channel, message, lease ms. Publishes, drops lapsed leases, lists the rest.
_PUBLISH = """
local n = redis.call('PUBLISH', ARGV[2], ARGV[3])
local t = redis.call('TIME')
local lapsed = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', ARGV[1], '-inf', lapsed)
return redis.call('ZRANGE', ARGV[1], 0, -1)
"""

# ARGV: set, lease ms.
_LIVE = """
local t = redis.call('TIME')
local lapsed = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', ARGV[1], '-inf', lapsed)
return redis.call('ZRANGE', ARGV[1], 0, -1)
"""

# ARGV: set, replica id, lease ms.
_RENEW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', ARGV[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', ARGV[1], tonumber(ARGV[3]) * 2)
return 1
"""

OnTags = Callable[[list[str]], Awaitable[None]]
OnFresh = Callable[[], None]


class Broadcasts:
    def __init__(self, tier: Tier, lease_seconds: float) -> None:
        self._tier = tier
        self._lease = lease_seconds
        self._lease_ms = int(lease_seconds * 1000)
        self.id = secrets.token_hex(8)
        self._set = f"{tier.prefix}:replicas"
        self._scripts = {
            name: tier.client.register_script(source)
            for name, source in (("publish", _PUBLISH), ("live", _LIVE), ("renew", _RENEW))
        }
        # monotonic: the local tier may be used before it (0: not subscribed and leased)
        self.heard_until = 0.0
        self.subscribed = False

    @property
    def channel(self) -> str:
        return f"{self._tier.prefix}:invalidations"

    async def broadcast(self, tags: Iterable[str]) -> int | None:
        """Tell every replica to drop `tags` from its local tier, and return once each that
        may be using its local tier has confirmed, or has stopped using it: how many
        confirmed, or None when Redis could not be reached (after waiting out the leases
        of replicas that lost it too)."""
        ack = f"{self._tier.prefix}:ack:{secrets.token_hex(8)}"
        message = orjson.dumps({"tags": sorted(tags), "ack": ack})
        listed = await self._publish(message)
        if listed is None:
            return None
        # Every lease listed ends within a lease from now, and a replica's use of its local
        # tier ends no later than its lease.
        deadline = time.monotonic() + self._lease
        waiting = {member.decode() for member in listed}
        confirmed = 0
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("%d replicas did not confirm: their leases ran out", len(waiting))
                break
            seconds = min(left, _POLL)
            popped = await self._tier.call(partial(self._pop, ack, seconds), seconds + 0.25, True)
            if popped:
                confirmed += 1
                waiting.discard(popped[1].decode())
                continue
            live = None
            if popped is not None:
                live = await self._tier.call(
                    partial(self._scripts["live"], args=[self._set, self._lease_ms]), always=True
                )
            if live is None:  # Redis failed: the leases listed will have run out by then
                await asyncio.sleep(max(0.0, deadline - time.monotonic()))
                break
            waiting &= {member.decode() for member in live}
        return confirmed

    async def _pop(self, key: str, seconds: float) -> Any:
        return await self._tier.client.blpop([key], timeout=seconds) or ()

    async def _publish(self, message: bytes) -> list[bytes] | None:
        """Publish and list the leases, trying again while Redis fails (a stall ends, a
        restart comes back), until it has failed this process for a whole lease: then any
        replica that cannot reach it either has seen its lease run out, and empties its
        local tier before using it again."""
        while True:
            listed: list[bytes] | None = await self._tier.call(
                partial(
                    self._scripts["publish"],
                    args=[self._set, self.channel, message, self._lease_ms],
                ),
                always=True,
            )
            if listed is not None:
                return listed
            since = self._tier.down_since
            if since is None or time.monotonic() >= since + self._lease:
                return None
            await asyncio.sleep(_POLL)

    async def follow(self, on_tags: OnTags, on_fresh: OnFresh) -> None:
        """Apply every replica's broadcast to this process (through `on_tags`), confirm it,
        and hold the lease while the subscription is whole; `on_fresh` empties the local
        tier after each subscription, before the lease first lets it be used.
        Resubscribes after any failure. Runs until cancelled."""
        while not self._tier.closed:
            pubsub = self._tier.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed = True
                await self._hold(pubsub, on_tags, on_fresh)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis gone: resubscribe after a pause
                _raise_if_cancelling()
                self._lost()
                self._tier.failures += 1
                await self.leave()
                await asyncio.sleep(_PAUSE)
            finally:
                self._lost()
                # Bounded: a connection left mid-read by a cancellation may never close
                # cleanly, and shutdown must not wait on it.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(0.25):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def leave(self) -> None:
        """Drop this replica's lease (its local tier is out of use): writers stop waiting
        for it."""
        await self._tier.call(lambda: self._tier.client.zrem(self._set, self.id), always=True)

    def _lost(self) -> None:
        self.heard_until = 0.0
        self.subscribed = False

    async def _hold(self, pubsub: Any, on_tags: OnTags, on_fresh: OnFresh) -> None:
        while not self._tier.closed:
            pinged = await self._heard_all(pubsub, on_tags)
            renewed = await self._tier.call(
                partial(self._scripts["renew"], args=[self._set, self.id, self._lease_ms]),
                always=True,
            )
            if renewed is not None:  # otherwise the lease runs on to its end, no further
                # Newly subscribed, or a lease that ran out: writers may have returned
                # without this replica (one that no longer listed it, or that could not
                # reach Redis). Their writes committed before the renewal, so before this.
                if time.monotonic() >= self.heard_until:
                    on_fresh()
                self.heard_until = pinged + self._lease
            await self._listen(pubsub, on_tags, pinged + self._lease / _RENEWALS)

    async def _heard_all(self, pubsub: Any, on_tags: OnTags) -> float:
        """PING through the subscription and apply what comes before the PONG: every
        broadcast published before the PING. The PING's moment."""
        token = secrets.token_hex(4).encode()
        pinged = time.monotonic()
        await pubsub.ping(token)
        async with asyncio.timeout(max(self._lease, 1.0)):
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                _raise_if_cancelling()
                if message is None:
                    continue
                if message["type"] == "pong":
                    if message["data"] == token:
                        return pinged
                    continue
                await self._apply(message, on_tags)

    async def _listen(self, pubsub: Any, on_tags: OnTags, until: float) -> None:
        while (left := until - time.monotonic()) > 0:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            _raise_if_cancelling()
            if message is not None and message["type"] != "pong":
                await self._apply(message, on_tags)

    async def _apply(self, message: dict[str, Any], on_tags: OnTags) -> None:
        body = orjson.loads(message["data"])
        await on_tags(list(body["tags"]))
        async with self._tier.client.pipeline(transaction=False) as pipe:
            pipe.rpush(body["ack"], self.id)
            pipe.expire(body["ack"], 10)
            await pipe.execute()


def _raise_if_cancelling() -> None:
    """Stop a task being cancelled. On Python 3.11 redis-py's reads can swallow a
    cancellation that meets their own timeout (returning nothing, or TimeoutError), and a
    loop around them would then never end."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
