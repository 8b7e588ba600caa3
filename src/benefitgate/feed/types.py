"""GraphQL types of outbox events, and each event's GraphQL object built once for all
its live subscribers."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from benefitgate.api.errors import Error, ErrorCode, InvalidInputError
from benefitgate.events import kinds
from benefitgate.events import outbox as events

__all__ = ["CursorExpiredError", "Event", "EventObjects", "EventPage", "EventsResult", "event_of"]


@strawberry.type
class Event:
    id: strawberry.ID
    cursor: str
    type: str = strawberry.field(
        description="One of the types the service writes, which subscriptions' `types` and "
        "webhook endpoints' `eventTypes` take: " + ", ".join(f"`{t}`" for t in kinds.TYPES)
    )
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


class EventObjects:
    """A bounded, least recently used map from an outbox event to its GraphQL object, so
    that a live event is built once for all the process's subscribers."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._built: OrderedDict[int, Event] = OrderedDict()

    def of(self, event: events.Event) -> Event:
        built = self._built.get(event.id)
        if built is None:
            built = self._built[event.id] = event_of(event)
            if len(self._built) > self._capacity:
                self._built.popitem(last=False)
        return built
