"""Live event subscriptions over graphql-transport-ws: `events` and `milestoneReached`.

Each stream replays from the outbox after `after`, then goes live (see `eventstream`).
Events go to the socket by the operation's direct delivery when it has one (see
`direct`), and through graphql-core otherwise. A stream ends with a typed member:
`StreamClosedError` (resume with `after = resumeAfter` when `retryable`) or
`CursorExpiredError` (events after the cursor were pruned).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated
from uuid import UUID

import strawberry

from benefitgate.api.context import Info
from benefitgate.api.errors import Error, ErrorCode, InvalidInputError, NotFoundError
from benefitgate.events import kinds, visibility
from benefitgate.events import outbox as events
from benefitgate.events import stream as eventstream
from benefitgate.events.hub import Interest
from benefitgate.events.stream import Closed, Expired
from benefitgate.feed import direct
from benefitgate.feed.types import CursorExpiredError, Event, EventObjects

__all__ = ["LiveSubscription", "StreamClosedError"]

MAX_ACCOUNTS = 100
MAX_TYPES = 50
MILESTONE_REACHED = "milestone.reached"
_TYPES = f"1 to {MAX_TYPES} of the types `Event.type` lists; any other is `INVALID_INPUT`."


@strawberry.type(
    description="The stream ended. When `retryable`, subscribe again with "
    "`after: resumeAfter` to miss nothing. `UNAUTHENTICATED`: the credential was revoked. "
    "`CREDENTIAL_EXPIRED`: connect with a fresh credential and resume from `resumeAfter`."
)
class StreamClosedError(Error):
    retryable: bool
    resume_after: str


LiveEventResult = Annotated[
    Event | StreamClosedError | CursorExpiredError | InvalidInputError | NotFoundError,
    strawberry.union("LiveEventResult"),
]

Item = Event | StreamClosedError | CursorExpiredError | InvalidInputError | NotFoundError


async def _stream(
    info: Info, account_ids: list[strawberry.ID] | None, types: list[str] | None, after: str | None
) -> AsyncGenerator[Item, None]:
    """Validate the arguments, then relay the subscriber's stream as GraphQL members."""
    parsed = await _parse(info, account_ids, types, after)
    if not isinstance(parsed, tuple):
        yield parsed
        return
    interest, cursor = parsed
    live = info.context.live
    assert live is not None, "subscriptions are served only over WebSocket"
    objects = info.context.shared.get(EventObjects)
    delivery = direct.current()
    reader = info.context.principal.event_reader()
    stream = eventstream.follow(info.context.pool, live, reader, interest, cursor)
    async for item in stream:
        if isinstance(item, Closed):
            yield StreamClosedError(
                code=ErrorCode(item.reason.value),
                message=f"stream closed: {item.reason.value}",
                retryable=item.reason.retryable,
                resume_after=item.resume_after.encode(),
            )
        elif isinstance(item, Expired):
            yield CursorExpiredError.of(item.horizon)
        else:
            event = objects.of(item)
            if delivery is None or not await delivery.send(event):
                yield event


async def _parse(
    info: Info, account_ids: list[strawberry.ID] | None, types: list[str] | None, after: str | None
) -> tuple[Interest, events.Cursor | None] | InvalidInputError | NotFoundError:
    # An empty list narrows the stream to nothing: it stayed open and never sent a thing.
    if account_ids is not None and not 0 < len(account_ids) <= MAX_ACCOUNTS:
        return InvalidInputError.of("accountIds", f"give 1 to {MAX_ACCOUNTS} accounts, or none")
    if types is not None and not 0 < len(types) <= MAX_TYPES:
        return InvalidInputError.of("types", f"give 1 to {MAX_TYPES} types, or none")
    # A type the service never writes (a typo) would leave the stream silent, not refused.
    unknown = None if types is None else kinds.refusal(types)
    if unknown is not None:
        return InvalidInputError.of("types", unknown)
    # Global events come only when no account is named.
    accountless = None if types is None or account_ids is None else kinds.accountless(types)
    if accountless is not None:
        return InvalidInputError.of("types", accountless)
    try:
        cursor = None if after is None else events.Cursor.decode(after)
    except events.InvalidCursor:
        return InvalidInputError.of("after", "after is not a cursor this API produced")
    refused = None if cursor is None else await _not_issued(info, cursor)
    if refused is not None:
        return InvalidInputError.of("after", f"after is {refused}")
    try:
        accounts = None if account_ids is None else frozenset(UUID(a) for a in account_ids)
    except ValueError:
        return InvalidInputError.of("accountIds", "accountIds must be account ids")
    if accounts:
        missing = await _unseen(info, accounts)
        if missing is not None:
            return NotFoundError.of(f"account {missing}")
    interest = Interest(accounts, None if types is None else frozenset(types))
    return interest, cursor


async def _not_issued(info: Info, cursor: events.Cursor) -> str | None:
    """Why `cursor` cannot be one the service handed out, if it cannot: a stream from past
    the newest event would drop every event, live ones too, until the transaction ids
    reached it (`events.check_issued`)."""
    async with info.context.db.acquire() as conn:
        try:
            await events.check_issued(conn, cursor)
        except events.InvalidCursor as exc:
            return str(exc)
    return None


async def _unseen(info: Info, accounts: frozenset[UUID]) -> UUID | None:
    """An asked-for account the caller may not see (or that does not exist), if any: both
    are NOT_FOUND, so existence is never revealed."""
    async with info.context.db.acquire() as conn:
        partners = await visibility.managing_partners(conn, accounts)
    principal = info.context.principal
    for account in sorted(accounts):
        if account not in partners or not principal.can_see(account, partners[account]):
            return account
    return None


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(
        description="Events the caller may see, in cursor order, at least once. With "
        "`after`, replays from the outbox and then goes live with no gap; without it, starts "
        "now. `accountIds` and `types` narrow the stream; global events (no account) come "
        "only when `accountIds` is omitted."
    )
    async def events(
        self,
        info: Info,
        account_ids: list[strawberry.ID] | None = None,
        types: Annotated[list[str] | None, strawberry.argument(description=_TYPES)] = None,
        after: str | None = None,
    ) -> AsyncGenerator[LiveEventResult, None]:
        async for item in _stream(info, account_ids, types, after):
            yield item

    @strawberry.subscription(description="The `events` stream of `milestone.reached` events only.")
    async def milestone_reached(
        self,
        info: Info,
        account_ids: list[strawberry.ID] | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[LiveEventResult, None]:
        async for item in _stream(info, account_ids, [MILESTONE_REACHED], after):
            yield item
