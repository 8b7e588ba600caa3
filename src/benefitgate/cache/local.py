"""The in-process tier: a least-recently-used map of encoded responses, bounded in entries
and in bytes, with an index from each tag to the keys filed under it.

cachetools' LRUCache does the byte accounting and the eviction; aiocache's
SimpleMemoryCache would have been unbounded (see NOTES.md) and costs an `await` per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache

__all__ = ["Entry", "LocalTier"]

# What an entry costs beyond its body: the key, the tags, the objects around them.
_OVERHEAD = 400


@dataclass(frozen=True, slots=True)
class Entry:
    """One encoded response, the tags it is filed under, and when it stops being true
    with time alone (None: not before an invalidation)."""

    body: bytes
    etag: str
    tags: frozenset[str]
    until: datetime | None

    def fresh_at(self, now: datetime) -> bool:
        return self.until is None or now < self.until

    @property
    def size(self) -> int:
        return len(self.body) + _OVERHEAD + sum(len(t) for t in self.tags)


class _Entries(LRUCache[str, Entry]):
    """An LRUCache that also bounds its number of entries and tells the tier what it
    evicts, so that the tag index never names a key that is gone."""

    def __init__(self, max_entries: int, max_bytes: int, on_evict: Any) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=lambda e: e.size)
        self._max_entries = max_entries
        self._on_evict = on_evict

    def __setitem__(self, key: str, value: Entry) -> None:
        while len(self) >= self._max_entries and key not in self:
            self.popitem()
        super().__setitem__(key, value)

    def popitem(self) -> tuple[str, Entry]:
        key, entry = super().popitem()
        self._on_evict(key, entry)
        return key, entry


class LocalTier:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._entries = _Entries(max_entries, max_bytes, self._unindex)
        self._by_tag: dict[str, set[str]] = {}
        self.hits = self.misses = self.evictions = 0

    def get(self, key: str, now: datetime) -> Entry | None:
        entry = self.hit(key, now)
        if entry is None:
            self.misses += 1
        return entry

    def hit(self, key: str, now: datetime) -> Entry | None:
        """The fresh entry under `key`, counted as a hit; None, counted nowhere, without
        one (an entry out of date is dropped)."""
        try:  # indexing: cachetools' `get` looks the key up three times
            entry = self._entries[key]
        except KeyError:
            return None
        if not entry.fresh_at(now):
            self._drop(key)
            return None
        self.hits += 1
        return entry

    def put(self, key: str, entry: Entry) -> None:
        if entry.size > self._entries.maxsize:
            return  # larger than the whole tier: LRUCache would raise
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)

    def drop_tags(self, tags: Iterable[str]) -> int:
        """Drop every entry filed under any of `tags`; how many were dropped."""
        dropped = 0
        for tag in tags:
            for key in self._by_tag.pop(tag, ()):
                if key in self._entries:
                    self._drop(key)
                    dropped += 1
        return dropped

    def clear(self) -> None:
        self._entries.clear()
        self._by_tag.clear()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._unindex(key, entry, evicted=False)

    def _unindex(self, key: str, entry: Entry, evicted: bool = True) -> None:
        if evicted:
            self.evictions += 1
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
