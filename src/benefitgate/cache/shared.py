"""The shared tier in Redis (`redis.asyncio`), and the broadcast that tells every replica's
local tier what a mutation invalidated before the mutation answers.

Layout under a prefix (one per deployment; tests use their own):

- `gen`: a random generation; entries live under it (`e:<gen>:<key>`), so a flush (a new
  generation) makes every entry unreachable at once. A Redis that restarted without its
  data has no `gen`: the next stamp starts a new one, and stores stamped before are refused.
- `seq`: the invalidation sequence; `tag:<tag>`: its value at the tag's last invalidation;
  `keys:<tag>`: the entry keys filed under the tag.

A store is refused, atomically in one script, when the generation changed or a tag of the
entry was invalidated after the request's stamp: the same check as the local tier's,
against invalidations any replica made.

Redis down or slow never fails a request: every call has a short timeout, a failure turns
the tier off for a second, and the first call that succeeds after a failure flushes the
tier first (it may hold entries a missed invalidation should have dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import orjson
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from benefitgate.cache.local import Entry

__all__ = ["SharedTier", "Stamp"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_TIMEOUT = 0.25  # seconds for any Redis call; a request never waits longer on this tier
_PAUSE = 1.0  # seconds the tier stays off after a failure
_TAG_MEMORY_MS = 3_600_000  # how long a tag's invalidation is remembered: > any request

_STAMP = """
local p = ARGV[1]
local gen = redis.call('GET', p .. ':gen')
if not gen then
  gen = ARGV[2]
  redis.call('SET', p .. ':gen', gen)
end
return {gen, redis.call('GET', p .. ':seq') or '0'}
"""

_GET = """
local gen = redis.call('GET', ARGV[1] .. ':gen')
if not gen then return false end
return redis.call('GET', ARGV[1] .. ':e:' .. gen .. ':' .. ARGV[2])
"""

# ARGV: prefix, gen, begun seq, key, value, ttl ms, tags...
_PUT = """
local p = ARGV[1]
if redis.call('GET', p .. ':gen') ~= ARGV[2] then return 0 end
local begun = tonumber(ARGV[3])
for i = 7, #ARGV do
  local last = redis.call('GET', p .. ':tag:' .. ARGV[i])
  if last and tonumber(last) > begun then return 0 end
end
local key = p .. ':e:' .. ARGV[2] .. ':' .. ARGV[4]
redis.call('SET', key, ARGV[5], 'PX', ARGV[6])
for i = 7, #ARGV do
  redis.call('SADD', p .. ':keys:' .. ARGV[i], key)
  redis.call('PEXPIRE', p .. ':keys:' .. ARGV[i], ARGV[6], 'GT')
  if redis.call('PTTL', p .. ':keys:' .. ARGV[i]) < 0 then
    redis.call('PEXPIRE', p .. ':keys:' .. ARGV[i], ARGV[6])
  end
end
return 1
"""

# ARGV: prefix, tag memory ms, tags...
_INVALIDATE = """
local p = ARGV[1]
local seq = redis.call('INCR', p .. ':seq')
for i = 3, #ARGV do
  redis.call('SET', p .. ':tag:' .. ARGV[i], seq, 'PX', ARGV[2])
  local keys = redis.call('SMEMBERS', p .. ':keys:' .. ARGV[i])
  for _, key in ipairs(keys) do redis.call('DEL', key) end
  redis.call('DEL', p .. ':keys:' .. ARGV[i])
end
return seq
"""

_FLUSH = """
redis.call('SET', ARGV[1] .. ':gen', ARGV[2])
return redis.call('INCR', ARGV[1] .. ':seq')
"""


@dataclass(frozen=True, slots=True)
class Stamp:
    gen: str
    seq: int


OnMessage = Callable[[list[str]], Awaitable[None]]


class SharedTier:
    def __init__(self, url: str, prefix: str, max_ttl_seconds: float) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=_TIMEOUT,
            socket_connect_timeout=_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self._prefix = prefix
        self._max_ttl_ms = int(max_ttl_seconds * 1000)
        self._scripts = {
            name: self._client.register_script(source)
            for name, source in (
                ("stamp", _STAMP),
                ("get", _GET),
                ("put", _PUT),
                ("invalidate", _INVALIDATE),
                ("flush", _FLUSH),
            )
        }
        self._off_until = 0.0
        # Flushed at start: changes committed while no replica listened (a CLI import,
        # every replica down) invalidated nothing in Redis.
        self._must_flush = True
        self.subscribed = False
        self._closed = False
        self.hits = self.misses = self.failures = 0

    @property
    def channel(self) -> str:
        return f"{self._prefix}:invalidations"

    async def get(self, key: str) -> Entry | None:
        raw = await self._call(self._scripts["get"], self._prefix, key)
        if not raw:
            self.misses += 1
            return None
        self.hits += 1
        return _decode(raw)

    async def stamp(self) -> Stamp | None:
        found = await self._call(self._scripts["stamp"], self._prefix, _new_gen())
        return None if found is None else Stamp(found[0].decode(), int(found[1]))

    async def put(self, stamp: Stamp, key: str, entry: Entry, now: datetime) -> bool:
        ttl = self._max_ttl_ms
        if entry.until is not None:
            ttl = min(ttl, int((entry.until - now).total_seconds() * 1000))
        if ttl <= 0:
            return False
        kept = await self._call(
            self._scripts["put"],
            self._prefix,
            stamp.gen,
            stamp.seq,
            key,
            _encode(entry),
            ttl,
            *sorted(entry.tags),
        )
        return bool(kept)

    async def invalidate(self, tags: Iterable[str]) -> None:
        await self._call(self._scripts["invalidate"], self._prefix, _TAG_MEMORY_MS, *tags)

    async def flush(self) -> None:
        if await self._call(self._scripts["flush"], self._prefix, _new_gen()) is None:
            self._must_flush = True

    async def broadcast(self, tags: Iterable[str], wait_seconds: float) -> int | None:
        """Tell every subscribed replica to drop `tags` from its local tier and wait until
        each has: how many confirmed, or None when Redis could not be reached."""
        ack = f"{self._prefix}:ack:{secrets.token_hex(8)}"
        message = orjson.dumps({"tags": sorted(tags), "ack": ack})
        receivers = await self._call_raw(lambda: self._client.publish(self.channel, message))
        if receivers is None:
            return None
        confirmed = 0
        deadline = time.monotonic() + wait_seconds
        while confirmed < receivers:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("%d of %d replicas did not confirm", receivers - confirmed, receivers)
                break
            popped = await self._call_raw(partial(self._pop, ack, left), seconds=left + _TIMEOUT)
            if popped is None:
                break
            confirmed += 1
        return confirmed

    async def _pop(self, key: str, seconds: float) -> object:
        return await self._client.blpop([key], timeout=seconds)

    async def follow(self, on_tags: OnMessage) -> None:
        """Apply every replica's broadcast to this process (through `on_tags`) and confirm
        it, resubscribing after any failure. Runs until cancelled."""
        while not self._closed:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed = True
                while not self._closed:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                    _raise_if_cancelling()
                    if message is None:
                        continue
                    body = orjson.loads(message["data"])
                    await on_tags(list(body["tags"]))
                    await self._client.rpush(body["ack"], b"1")
                    await self._client.expire(body["ack"], 10)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis gone: resubscribe after a pause
                _raise_if_cancelling()
                self.subscribed = False
                self.failures += 1
                await asyncio.sleep(_PAUSE)
            finally:
                self.subscribed = False
                # Bounded: a connection left mid-read by a cancellation may never close
                # cleanly, and shutdown must not wait on it.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_TIMEOUT):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self._client.aclose()

    def stats(self) -> dict[str, int]:
        return {
            "shared_hits": self.hits,
            "shared_misses": self.misses,
            "shared_failures": self.failures,
        }

    async def _call(self, script: Any, *args: object) -> Any:
        return await self._call_raw(lambda: script(args=list(args)))

    async def _call_raw(
        self, call: Callable[[], Awaitable[T]], seconds: float = _TIMEOUT * 2
    ) -> T | None:
        """The call's answer, or None when Redis failed now or lately."""
        if time.monotonic() < self._off_until:
            return None
        try:
            async with asyncio.timeout(seconds):
                if self._must_flush:
                    await self._scripts["flush"](args=[self._prefix, _new_gen()])
                    self._must_flush = False
                return await call()
        except (redis.RedisError, OSError, TimeoutError):
            self.failures += 1
            self._off_until = time.monotonic() + _PAUSE
            self._must_flush = True
            return None


def _raise_if_cancelling() -> None:
    """Stop a task being cancelled. On Python 3.11 redis-py's reads can swallow a
    cancellation that meets their own timeout (returning nothing, or TimeoutError), and a
    loop around them would then never end."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _new_gen() -> str:
    return secrets.token_hex(8)


def _encode(entry: Entry) -> bytes:
    until = None if entry.until is None else entry.until.timestamp()
    return orjson.dumps([entry.etag, sorted(entry.tags), until]) + b"\n" + entry.body


def _decode(raw: bytes) -> Entry:
    head, _, body = raw.partition(b"\n")
    etag, tags, until = orjson.loads(head)
    moment = None if until is None else datetime.fromtimestamp(until, UTC)
    return Entry(body, etag, frozenset(tags), moment)
