"""What one request's response read: the tags to file it under and the earliest instant it
would change with time alone. Resolvers of cacheable fields report here; the response cache
stores the response only if every cacheable root reported.

Found per request with `info.context.loader(Reads)`. `active` is False unless the response
cache may store this request's response: reporting then costs nothing worth computing.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

__all__ = ["Reads"]


class Reads:
    def __init__(self, context: object = None) -> None:
        self.active = False
        self.tags: set[str] = set()
        self.until: datetime | None = None
        # Names of the fields the document selects anywhere (an over-approximation of what
        # is rendered), for answers whose time-dependence depends on the selection.
        self.selected: frozenset[str] = frozenset()
        self.roots_reported = 0
        self.accounts: set[UUID] = set()  # accounts whose grants bound `until` too
        # Of those, the ones whose grants the request read whole, with their next change:
        # no statement after the response for them.
        self.grant_changes: dict[UUID, datetime | None] = {}

    def begin(self, selected: frozenset[str]) -> None:
        self.active, self.selected = True, selected

    def tag(self, *tags: str) -> None:
        self.tags.update(tags)

    def changes_at(self, instant: datetime | None) -> None:
        """The response may change with time alone at `instant` (None: never)."""
        if instant is not None and (self.until is None or instant < self.until):
            self.until = instant

    def root(self, *tags: str, changes_at: datetime | None = None) -> None:
        """A cacheable root field resolved: its tags and when it changes with time."""
        self.roots_reported += 1
        self.tag(*tags)
        self.changes_at(changes_at)
