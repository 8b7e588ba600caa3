"""The outbox as a pollable feed, scoped to what the caller may see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from benefitgate.api.context import Info
from benefitgate.api.errors import Error, ErrorCode, InvalidInputError
from benefitgate.api.pagination import check_first
from benefitgate.events import outbox as events
from benefitgate.events import retention

__all__ = ["CursorExpiredError", "Event", "EventQuery", "event_of"]


@strawberry.type
class Event:
    id: strawberry.ID
    cursor: str
    type: str
    account_id: strawberry.ID | None
    payload: JSON
    created_at: datetime


@strawberry.type
class EventPage:
    events: list[Event]
    end_cursor: str = strawberry.field(description="Pass as `after` to read on.")
    has_more: bool


@strawberry.type(
    description="Events after the cursor were pruned from the outbox. `horizon` is the "
    "oldest position still complete; reading on from it skips what was pruned."
)
class CursorExpiredError(Error):
    horizon: str

    @classmethod
    def of(cls, horizon: events.Cursor) -> CursorExpiredError:
        return cls(
            code=ErrorCode.CURSOR_EXPIRED,
            message="events after this cursor were pruned",
            horizon=horizon.encode(),
        )


EventsResult = Annotated[
    EventPage | InvalidInputError | CursorExpiredError, strawberry.union("EventsResult")
]


def event_of(e: events.Event) -> Event:
    return Event(
        id=strawberry.ID(str(e.id)),
        cursor=e.cursor.encode(),
        type=e.type,
        account_id=strawberry.ID(str(e.account_id)) if e.account_id else None,
        payload=JSON(e.payload),
        created_at=e.created_at,
    )


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
        async with info.context.pool.acquire() as conn:
            page = await events.read_feed(conn, cursor, first + 1, scope)
            try:
                if after is not None:  # without a cursor, the feed starts at the horizon
                    await retention.check_cursor(conn, cursor)
            except retention.CursorExpired as expired:
                return CursorExpiredError.of(expired.horizon)
        shown = page[:first]
        end = shown[-1].cursor if shown else cursor
        return EventPage(
            events=[event_of(e) for e in shown], end_cursor=end.encode(), has_more=len(page) > first
        )
