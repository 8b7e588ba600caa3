"""The outbox as a pollable feed, scoped to what the caller may see."""

from __future__ import annotations

import strawberry

from benefitgate.api.context import Info
from benefitgate.api.errors import InvalidInputError
from benefitgate.api.pagination import check_first
from benefitgate.events import outbox as events
from benefitgate.events import retention
from benefitgate.feed.types import CursorExpiredError, EventPage, EventsResult, event_of

__all__ = ["EventQuery"]


@strawberry.type
class EventQuery:
    @strawberry.field(
        description="Events after a cursor, oldest first; omit `after` to start "
        "at the beginning of retention."
    )
    async def events(self, info: Info, after: str | None = None, first: int = 50) -> EventsResult:
        invalid = check_first(first)
        if invalid is not None:
            return invalid
        try:
            cursor = events.START if after is None else events.Cursor.decode(after)
        except events.InvalidCursor:
            return InvalidInputError.of("after", "after is not a cursor this API produced")
        scope = info.context.principal.event_scope()
        async with info.context.db.acquire() as conn:
            try:
                await events.check_issued(conn, cursor)
            except events.InvalidCursor:
                return InvalidInputError.of("after", "after is past the newest event")
            page = await events.read_feed(conn, cursor, first + 1, scope)
            try:
                if after is not None:  # without a cursor, the feed starts at the horizon
                    await retention.check_cursor(conn, cursor)
            except retention.CursorExpired as expired:
                return CursorExpiredError.of(expired.horizon)
            if after is None and not page:
                # Nothing since the horizon: the page ends there, read after the page (so a
                # prune meanwhile is seen). Ending it at the start, the next page was
                # CURSOR_EXPIRED from the first prune on, though nothing had been missed.
                cursor = await retention.horizon(conn)
        shown = page[:first]
        end = shown[-1].cursor if shown else cursor
        return EventPage(
            events=[event_of(e) for e in shown], end_cursor=end.encode(), has_more=len(page) > first
        )
