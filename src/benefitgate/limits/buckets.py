"""Token buckets: the arithmetic, and a bounded set of buckets kept in this process.

A bucket for a `Quota` of q requests per w seconds holds at most q tokens and refills at
q / w tokens a second; a request takes one token or is refused. The state is two numbers,
the tokens left and the instant they were counted, so the same arithmetic runs here and in
Redis's Lua (`limits.shared`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from benefitgate.config import Quota

__all__ = ["Decision", "LocalBuckets", "decide", "refill"]

# Buckets one process keeps; the least recently used is dropped beyond this (its caller
# then starts again with a full bucket, which only ever errs toward letting a request in).
MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go on, and what the RateLimit header fields say about it."""

    allowed: bool
    quota: Quota
    remaining: int  # whole tokens left after this request
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # when refused: seconds until a token is back; 0 when allowed


def refill(tokens: float, at: float, now: float, quota: Quota) -> float:
    """The tokens at `now` of a bucket that held `tokens` at `at`. A clock reading older
    than `at` (another replica's clock a little behind) refills nothing."""
    elapsed = max(0.0, now - at)
    return min(float(quota.requests), tokens + elapsed * quota.requests / quota.seconds)


def decide(allowed: bool, tokens: float, quota: Quota) -> Decision:
    """The decision for a bucket left with `tokens` after taking one, or refusing to."""
    rate = quota.requests / quota.seconds
    retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))
    reset = math.ceil((quota.requests - tokens) / rate)
    return Decision(allowed, quota, int(tokens), max(reset, retry), retry)


class LocalBuckets:
    """Buckets in this process's memory, the least recently used dropped past a bound."""

    def __init__(self, max_buckets: int = MAX_BUCKETS) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max = max_buckets

    def take(self, key: str, quota: Quota, now: float) -> Decision:
        """Take one token from `key`'s bucket at `now` (seconds), if it has one."""
        tokens, at = self._buckets.pop(key, (float(quota.requests), now))
        tokens = refill(tokens, at, now, quota)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, max(at, now))
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return decide(allowed, tokens, quota)
