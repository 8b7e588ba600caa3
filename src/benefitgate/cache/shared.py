"""The shared tier in Redis (`redis.asyncio`), whose client also carries the broadcast that
tells every replica's local tier what a write invalidated (`cache.broadcasts`).

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
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from benefitgate.cache.broadcasts import Broadcasts
from benefitgate.cache.local import Entry

__all__ = ["SharedTier", "Stamp"]

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

# A lookup and, for the miss, the stamp of the store to follow, in one round trip: ARGV:
# prefix, a new generation (used if there is none), key.
_LOOKUP = """
local p = ARGV[1]
local gen = redis.call('GET', p .. ':gen')
if not gen then
  gen = ARGV[2]
  redis.call('SET', p .. ':gen', gen)
end
local seq = redis.call('GET', p .. ':seq') or '0'
return {gen, seq, redis.call('GET', p .. ':e:' .. gen .. ':' .. ARGV[3])}
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


class SharedTier:
    def __init__(
        self, url: str, prefix: str, max_ttl_seconds: float, lease_seconds: float = 0.5
    ) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=_TIMEOUT,
            socket_connect_timeout=_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self.prefix = prefix
        self._max_ttl_ms = int(max_ttl_seconds * 1000)
        self._scripts = {
            name: self.client.register_script(source)
            for name, source in (
                ("stamp", _STAMP),
                ("lookup", _LOOKUP),
                ("put", _PUT),
                ("invalidate", _INVALIDATE),
                ("flush", _FLUSH),
            )
        }
        self._off_until = 0.0
        # Flushed at start: changes committed while no replica listened (a CLI import,
        # every replica down) invalidated nothing in Redis.
        self._must_flush = True
        # monotonic: when the failures this process is in began (None: Redis answers)
        self.down_since: float | None = None
        self.closed = False
        self.hits = self.misses = self.failures = 0
        self.broadcasts = Broadcasts(self, lease_seconds)

    async def get(self, key: str) -> Entry | None:
        return (await self.lookup(key))[0]

    async def lookup(self, key: str) -> tuple[Entry | None, Stamp | None]:
        """The entry under `key`, and the stamp a store of a fresh answer must carry: one
        round trip where `get` then `stamp` took two (a miss's Redis calls cost more CPU
        than the rest of its bookkeeping). The stamp is taken with the lookup, before the
        request reads anything, as `stamp` would be."""
        found = await self._call(self._scripts["lookup"], self.prefix, _new_gen(), key)
        if found is None:
            return None, None
        gen, seq, raw = found
        stamp = Stamp(gen.decode(), int(seq))
        if not raw:
            self.misses += 1
            return None, stamp
        self.hits += 1
        return _decode(raw), stamp

    async def stamp(self) -> Stamp | None:
        found = await self._call(self._scripts["stamp"], self.prefix, _new_gen())
        return None if found is None else Stamp(found[0].decode(), int(found[1]))

    async def put(self, stamp: Stamp, key: str, entry: Entry, now: datetime) -> bool:
        ttl = self._max_ttl_ms
        if entry.until is not None:
            ttl = min(ttl, int((entry.until - now).total_seconds() * 1000))
        if ttl <= 0:
            return False
        kept = await self._call(
            self._scripts["put"],
            self.prefix,
            stamp.gen,
            stamp.seq,
            key,
            _encode(entry),
            ttl,
            *sorted(entry.tags),
        )
        return bool(kept)

    async def invalidate(self, tags: Iterable[str]) -> None:
        await self._call(self._scripts["invalidate"], self.prefix, _TAG_MEMORY_MS, *tags)

    async def flush(self) -> None:
        if await self._call(self._scripts["flush"], self.prefix, _new_gen()) is None:
            self._must_flush = True

    async def close(self) -> None:
        self.closed = True
        await self.broadcasts.leave()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self.client.aclose()

    def stats(self) -> dict[str, int]:
        return {
            "shared_hits": self.hits,
            "shared_misses": self.misses,
            "shared_failures": self.failures,
        }

    async def _call(self, script: Any, *args: object) -> Any:
        return await self.call(lambda: script(args=list(args)))

    async def call(
        self, call: Callable[[], Awaitable[T]], seconds: float = _TIMEOUT * 2, always: bool = False
    ) -> T | None:
        """The call's answer, or None when Redis failed now or (unless `always`: a
        broadcast, which replicas that reach Redis must hear) lately."""
        if not always and time.monotonic() < self._off_until:
            return None
        try:
            async with asyncio.timeout(seconds):
                if self._must_flush:
                    await self._scripts["flush"](args=[self.prefix, _new_gen()])
                    self._must_flush = False
                answer = await call()
        except (redis.RedisError, OSError, TimeoutError):
            if self.down_since is None:
                self.down_since = time.monotonic()
            self.failures += 1
            self._off_until = time.monotonic() + _PAUSE
            self._must_flush = True
            return None
        self.down_since = None
        return answer


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
