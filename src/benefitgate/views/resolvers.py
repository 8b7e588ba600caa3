"""Account queries: one account's benefit view, and pages of accounts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import strawberry

from benefitgate.accounts import service
from benefitgate.accounts.access import account_loader, visible_account
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.pagination import PageInfo, check_first, decode_id_cursor, encode_id_cursor
from benefitgate.api.scalars import parse_id
from benefitgate.auth.principals import Role
from benefitgate.cache.reads import Reads
from benefitgate.cache.tags import EXTERNAL_IDS, account_tag
from benefitgate.catalog.cache import catalog_of
from benefitgate.views.expiry import account_changes_at
from benefitgate.views.loaders import load_account_parts
from benefitgate.views.selection import GRANT_FIELDS, USAGE_FIELDS, account_fields
from benefitgate.views.types import Account, AccountConnection, AccountEdge, account_type

__all__ = ["AccountQuery"]

AccountResult = Annotated[
    Account | NotFoundError | InvalidInputError, strawberry.union("AccountResult")
]
AccountsResult = Annotated[
    AccountConnection | ForbiddenError | InvalidInputError, strawberry.union("AccountsResult")
]


async def _accounts(info: Info, ids: list[UUID], *, with_next_tier: bool = True) -> list[Account]:
    """The views of accounts the caller may see (all of `ids`), loaded by `visible_account`
    or in one statement here."""
    accounts = info.context.loader(account_loader)
    # One account's load awaited alone: `load_many` gathers, and a gathered future, even
    # one already loaded, completes a turn of the event loop later.
    loaded = [await accounts.load(ids[0])] if len(ids) == 1 else await accounts.load_many(ids)
    catalog = await catalog_of(info.context)
    now = info.context.now
    return [
        account_type(a, catalog, now, with_next_tier=with_next_tier)
        for a in loaded
        if a is not None
    ]


async def _read_selected_parts(info: Info, account_id: UUID, selected: set[str]) -> None:
    """Read the account with the parts of it the document selects (its grants, its usage)
    in one statement, for `visible_account` and the fields below to find."""
    grants = not GRANT_FIELDS.isdisjoint(selected)
    usage = not USAGE_FIELDS.isdisjoint(selected)  # usage needs the grants too
    await load_account_parts(info.context, account_id, grants=grants, usage=usage)


@strawberry.type
class AccountQuery:
    @strawberry.field(
        description="One account's benefit view, by its `id` or by the vendor's own "
        "`externalId`: give one. Unknown and invisible accounts are both NOT_FOUND, so "
        "existence is never revealed."
    )
    async def account(
        self, info: Info, id: strawberry.ID | None = None, external_id: str | None = None
    ) -> AccountResult:
        if (id is None) == (external_id is None):
            return InvalidInputError.of("id", "give exactly one of id and externalId")
        if id is not None:
            account_id = parse_id(id)
            if account_id is None:
                return InvalidInputError.of("id", "id is not a valid account id")
        else:
            assert external_id is not None
            async with info.context.db.acquire() as conn:
                account_id = await service.id_by_external_id(conn, external_id)
        selected = account_fields(info)
        if account_id is not None:
            await _read_selected_parts(info, account_id, selected)
        reads = info.context.loader(Reads)
        if reads.active and external_id is not None:
            reads.tag(EXTERNAL_IDS)  # a creation or a new external id may change the answer
        account = None if account_id is None else await visible_account(info, account_id)
        if account is None:
            if reads.active:
                reads.root(*([] if account_id is None else [account_tag(account_id)]))
            return NotFoundError.of("account")
        if reads.active:
            reads.accounts.add(account.id)
            changes_at = account_changes_at(account, info.context.now, reads.selected)
            reads.root(account_tag(account.id), changes_at=changes_at)
        with_next_tier = "nextTier" in selected
        return (await _accounts(info, [account.id], with_next_tier=with_next_tier))[0]

    @strawberry.field(description="Accounts in a stable order; a partner sees its own only.")
    async def accounts(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> AccountsResult:
        principal = info.context.principal
        if principal.role is Role.FRONTEND:
            return ForbiddenError.of("frontends read their own account with `account(id)`")
        invalid = check_first(first)
        if invalid is not None:
            return invalid
        after_id = None if after is None else decode_id_cursor(after)
        if isinstance(after_id, InvalidInputError):
            return after_id
        async with info.context.db.acquire() as conn:
            ids = await service.page_of_account_ids(
                conn, after=after_id, limit=first + 1, partner_id=principal.partner_id
            )
        nodes = await _accounts(info, ids[:first])
        edges = [AccountEdge(cursor=encode_id_cursor(UUID(n.id)), node=n) for n in nodes]
        return AccountConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(ids) > first, end_cursor=edges[-1].cursor if edges else None
            ),
        )
