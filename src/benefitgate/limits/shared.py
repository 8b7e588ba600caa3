"""Buckets shared by every replica through Redis, falling back to this process's buckets
while Redis cannot be reached: a rate limit never fails a request of its own.

One Lua script refills and takes a token atomically, so replicas taking from one bucket
at once never take a token twice. The instant is the caller's clock reading; a reading
older than the bucket's (a replica's clock a little behind) refills nothing and does not
move the bucket back in time.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from benefitgate.config import Quota
from benefitgate.limits.buckets import Decision, LocalBuckets, decide

__all__ = ["Buckets", "SharedBuckets"]

log = logging.getLogger(__name__)

# How long a replica keeps to its own buckets after Redis failed, before trying it again:
# every request would otherwise wait for a connection attempt while Redis is down.
RETRY_REDIS_SECONDS = 5.0
# A Redis that does not answer within this is treated as down for this request.
REDIS_TIMEOUT_SECONDS = 0.25

# KEYS[1]: the bucket; ARGV: requests, seconds, now. Returns {allowed, tokens as text}
# (a Lua number returned to Redis would be cut to an integer). Numbers are kept as text of
# 17 digits, every bit of a double, so the arithmetic is exactly `buckets.refill`'s.
_TAKE = """
local q = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = q
  at = now
end
if now > at then
  tokens = math.min(q, tokens + (now - at) * q / w)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
local exact_tokens = string.format('%.17g', tokens)
redis.call('HSET', KEYS[1], 'tokens', exact_tokens, 'at', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], math.ceil(w * 1000))
return {allowed, exact_tokens}
"""


class Buckets:
    """Where buckets live: this process only (the base), or Redis (`SharedBuckets`)."""

    def __init__(self) -> None:
        self.local = LocalBuckets()

    async def take(self, key: str, quota: Quota, now: float) -> Decision:
        return self.local.take(key, quota, now)

    async def close(self) -> None:
        return None


class SharedBuckets(Buckets):
    """Buckets in Redis under `prefix`, or this process's while Redis is unreachable."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self._redis = Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._redis.register_script(_TAKE)
        self._prefix = f"{prefix}rate:"
        self._down_until = 0.0

    @property
    def falling_back(self) -> bool:
        """Whether Redis failed lately and this process keeps its own buckets meanwhile."""
        return self._down_until != 0.0

    async def take(self, key: str, quota: Quota, now: float) -> Decision:
        if time.monotonic() < self._down_until:
            return self.local.take(key, quota, now)
        try:
            allowed, tokens = await self._script(
                keys=[self._prefix + key], args=[quota.requests, quota.seconds, repr(now)]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            if self._down_until == 0.0:
                log.warning(
                    "Redis unreachable; rate limits are per process until it is back: %s", exc
                )
            self._down_until = time.monotonic() + RETRY_REDIS_SECONDS
            return self.local.take(key, quota, now)
        if self._down_until:
            log.info("Redis reachable again; rate limits are shared")
            self._down_until = 0.0
        return decide(bool(allowed), float(tokens), quota)

    async def close(self) -> None:
        await self._redis.aclose()
