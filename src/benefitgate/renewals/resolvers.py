"""The renewal note of an account, as its next reminder would carry it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.api.context import Info
from benefitgate.api.errors import NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types
from benefitgate.renewals import service
from benefitgate.renewals.types import RenewalNote, note_type

__all__ = ["RenewalQuery"]

RenewalNoteResult = Annotated[RenewalNote | NotFoundError, strawberry.union("RenewalNoteResult")]


@strawberry.type
class RenewalQuery:
    @strawberry.field(
        description="The renewal note the account's next reminder would carry, as of now. "
        "NOT_FOUND when the account is not visible, or no renewal is coming (no live "
        "subscription, or one set to end)."
    )
    async def renewal_note(self, info: Info, account_id: strawberry.ID) -> RenewalNoteResult:
        parsed = parse_id(account_id)
        account = None if parsed is None else await visible_account(info, parsed)
        if account is None or not service.renews(account):
            return NotFoundError.of("account" if account is None else "renewal")
        catalog = await catalog_of(info.context)
        async with info.context.db.acquire() as conn:
            note = await service.note_of(conn, account, catalog, info.context.now)
        assert note is not None
        return note_type(note, catalog_types(catalog))
