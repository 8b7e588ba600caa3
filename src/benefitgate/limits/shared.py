"""Buckets shared by every replica through Redis, falling back to this process's buckets
while Redis cannot be reached: a rate limit never fails a request of its own.

One Lua script refills and takes a token atomically, so replicas taking from one bucket
at once never take a token twice. The instant is the caller's clock reading; a reading
older than the bucket's (a replica's clock a little behind) refills nothing and does not
move the bucket back in time.

Takes go to Redis together, in one call of the script, which takes them in their order as
if one by one: a round trip each cost a frontend's response cache hit two and a half
times the hit itself (bench/README.md). One call is under way at a time: the takes begun
meanwhile go in the next, as soon as it returns (a take begun with none under way goes at
the next turn of the event loop, with whatever else that turn began).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

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

# KEYS: the buckets, one a take (a bucket may come more than once); ARGV: requests,
# seconds and now of each take in turn. Returns {allowed, tokens as text} of each take in
# turn (a Lua number returned to Redis would be cut to an integer). Numbers are kept as
# text of 17 digits, every bit of a double, so the arithmetic is exactly `buckets.refill`'s.
_TAKE = """
local out = {}
for i, key in ipairs(KEYS) do
  local q = tonumber(ARGV[3 * i - 2])
  local w = tonumber(ARGV[3 * i - 1])
  local now = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
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
  redis.call('HSET', key, 'tokens', exact_tokens, 'at', string.format('%.17g', at))
  redis.call('PEXPIRE', key, math.ceil(w * 1000))
  out[2 * i - 1] = allowed
  out[2 * i] = exact_tokens
end
return out
"""

# One take waiting for its turn's call: the bucket, its quota, the instant, the answer.
_Take = tuple[str, Quota, float, "asyncio.Future[Decision]"]


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
        self._pending: list[_Take] = []  # takes for the next call
        self._sending: asyncio.Task[None] | None = None  # the call under way

    @property
    def falling_back(self) -> bool:
        """Whether Redis failed lately and this process keeps its own buckets meanwhile."""
        return self._down_until != 0.0

    async def take(self, key: str, quota: Quota, now: float) -> Decision:
        if time.monotonic() < self._down_until:
            return self.local.take(key, quota, now)
        loop = asyncio.get_running_loop()
        waiting: asyncio.Future[Decision] = loop.create_future()
        self._pending.append((key, quota, now, waiting))
        if len(self._pending) == 1 and self._sending is None:
            loop.call_soon(self._send_pending)
        return await waiting

    def _send_pending(self) -> None:
        if self._sending is not None or not self._pending:
            return
        takes, self._pending = self._pending, []
        self._sending = asyncio.create_task(self._take_all(takes))
        self._sending.add_done_callback(self._sent)

    def _sent(self, _: asyncio.Task[None]) -> None:
        self._sending = None
        self._send_pending()  # the takes begun while it was under way

    async def _take_all(self, takes: list[_Take]) -> None:
        """Take each of `takes` in Redis, in one call, and answer each; from this process's
        buckets when Redis fails, or failed while they waited for this call."""
        answers = None
        if time.monotonic() >= self._down_until:
            try:
                answers = await self._call(takes)
            except Exception as exc:  # each request meets it, as it did awaiting its own call
                for *_, waiting in takes:
                    if not waiting.done():
                        waiting.set_exception(exc)
                return
        for i, (key, quota, now, waiting) in enumerate(takes):
            if answers is None:
                decision = self.local.take(key, quota, now)
            else:
                decision = decide(bool(answers[2 * i]), float(answers[2 * i + 1]), quota)
            if not waiting.done():  # its request may be gone (the token stays taken)
                waiting.set_result(decision)

    async def _call(self, takes: list[_Take]) -> list[Any] | None:
        """The script's answers to `takes`; None when Redis cannot be reached."""
        try:
            answers: list[Any] = await self._script(
                keys=[self._prefix + key for key, _, _, _ in takes],
                args=[a for _, q, now, _ in takes for a in (q.requests, q.seconds, repr(now))],
            )
        except (RedisError, OSError, TimeoutError) as exc:
            if self._down_until == 0.0:
                log.warning(
                    "Redis unreachable; rate limits are per process until it is back: %s", exc
                )
            self._down_until = time.monotonic() + RETRY_REDIS_SECONDS
            return None
        if self._down_until:
            log.info("Redis reachable again; rate limits are shared")
            self._down_until = 0.0
        return answers

    async def close(self) -> None:
        await self._redis.aclose()
