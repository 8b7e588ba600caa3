"""The check that keeps a response computed from a read older than an invalidation out of
the cache.

Every invalidation takes the next number of a sequence and records it for each tag it
invalidates. A request notes the sequence before it reads (`begin`); its response may be
stored only if none of its tags was invalidated after that (`unchanged_since`). An
invalidation that arrives after the store drops the entry instead, so either way nothing
stale stays. The per-tag record is bounded: a tag forgotten to make room raises the floor
below which no request may store at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

__all__ = ["Generations"]


class Generations:
    def __init__(self, remember: int = 100_000) -> None:
        self._remember = remember
        self._seq = 0
        self._floor = 0  # requests that began before this may not store
        self._last: OrderedDict[str, int] = OrderedDict()

    def begin(self) -> int:
        return self._seq

    def invalidate(self, tags: Iterable[str]) -> None:
        self._seq += 1
        for tag in tags:
            self._last[tag] = self._seq
            self._last.move_to_end(tag)
        while len(self._last) > self._remember:
            _, forgotten = self._last.popitem(last=False)
            self._floor = max(self._floor, forgotten)

    def invalidate_all(self) -> None:
        self._seq += 1
        self._floor = self._seq
        self._last.clear()

    def unchanged_since(self, begun: int, tags: Iterable[str]) -> bool:
        if begun < self._floor:
            return False
        return all(self._last.get(tag, 0) <= begun for tag in tags)
