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
            except events.InvalidCursor as exc:
                return InvalidInputError.of("after", f"after is {exc}")
            page = await events.read_feed_page(conn, cursor, first + 1, scope)
            try:
                if after is not None:  # without a cursor, the feed starts at the horizon
                    await retention.check_cursor(conn, cursor)
            except retention.CursorExpired as expired:
                return CursorExpiredError.of(expired.horizon)
        shown = page.events[:first]
        more = len(page.events) > first
        # A page that held every event the caller may see ends where the read settled, past
        # the events it may not see: ending at its last event (or, empty, at the cursor it
        # was given), a quiet caller's cursor stayed below the events of others, read again
        # on every page, until the retention horizon passed it (CURSOR_EXPIRED, with
        # nothing missed).
        end = shown[-1].cursor if more else page.settled
        return EventPage(
            events=[event_of(e) for e in shown], end_cursor=end.encode(), has_more=more
        )
