"""The account's governance fields: its changes and its seat history, a page at a time,
for whoever may see the account (its own frontend included). The account view calls these
with an account the caller was authorised for."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from benefitgate.api.context import Context, Info, RequestConnection
from benefitgate.api.errors import InvalidInputError
from benefitgate.api.pagination import (
    PageInfo,
    check_first,
    decode_number_cursor,
    encode_number_cursor,
)
from benefitgate.governance import service
from benefitgate.governance.models import SeatMove, TrailEntry, VendorName
from benefitgate.governance.repository import PageKey
from benefitgate.governance.types import (
    AccountChangePage,
    SeatHistoryPage,
    change_type,
    seat_move_type,
)

__all__ = [
    "AccountChangesResult",
    "SeatHistoryResult",
    "account_changes",
    "actor_name_loader",
    "seat_history",
]

AccountChangesResult = Annotated[
    AccountChangePage | InvalidInputError, strawberry.union("AccountChangesResult")
]
SeatHistoryResult = Annotated[
    SeatHistoryPage | InvalidInputError, strawberry.union("SeatHistoryResult")
]


def _trail_loader(context: Context) -> DataLoader[PageKey, list[TrailEntry]]:
    vendor = context.shared.get(VendorName).name
    return DataLoader(load_fn=partial(_trails, context.db, vendor))


async def _trails(
    db: RequestConnection, vendor: str, pages: Sequence[PageKey]
) -> list[list[TrailEntry]]:
    async with db.acquire() as conn:
        return await service.trails(conn, pages, vendor)


def actor_name_loader(context: Context) -> DataLoader[str, str]:
    """Actors (audit entries', or a target's `setBy`) as customers see them named, for
    every actor of a request in one statement."""
    vendor = context.shared.get(VendorName).name
    return DataLoader(load_fn=partial(_names, context.db, vendor))


async def _names(db: RequestConnection, vendor: str, actors: Sequence[str]) -> list[str]:
    async with db.acquire() as conn:
        found = await service.actor_names(conn, actors, vendor)
    return [found[a] for a in actors]


def _seat_loader(context: Context) -> DataLoader[PageKey, list[SeatMove]]:
    return DataLoader(load_fn=partial(_seats, context.db))


async def _seats(db: RequestConnection, pages: Sequence[PageKey]) -> list[list[SeatMove]]:
    async with db.acquire() as conn:
        return await service.seat_history(conn, pages)


def _page_key(account_id: UUID, first: int, after: str | None) -> PageKey | InvalidInputError:
    invalid = check_first(first)
    if invalid is not None:
        return invalid
    below = None if after is None else decode_number_cursor(after)
    if isinstance(below, InvalidInputError):
        return below
    return (account_id, below, first + 1)  # one more: whether a next page exists


async def account_changes(
    info: Info, account_id: UUID, first: int, after: str | None
) -> AccountChangesResult:
    key = _page_key(account_id, first, after)
    if isinstance(key, InvalidInputError):
        return key
    found = await info.context.loader(_trail_loader).load(key)
    page = found[:first]
    return AccountChangePage(
        changes=[change_type(t) for t in page],
        page_info=PageInfo(
            has_next_page=len(found) > first,
            end_cursor=encode_number_cursor(page[-1].entry.id) if page else None,
        ),
    )


async def seat_history(
    info: Info, account_id: UUID, first: int, after: str | None
) -> SeatHistoryResult:
    key = _page_key(account_id, first, after)
    if isinstance(key, InvalidInputError):
        return key
    found = await info.context.loader(_seat_loader).load(key)
    page = found[:first]
    return SeatHistoryPage(
        moves=[seat_move_type(m) for m in page],
        page_info=PageInfo(
            has_next_page=len(found) > first,
            end_cursor=encode_number_cursor(page[-1].number) if page else None,
        ),
    )
