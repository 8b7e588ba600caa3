"""Renewal risk for internal tools and partners: the accounts renewing soon, most at risk
first, each with its stored health score, when it was scored and the reasons for it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from benefitgate.accounts.timeline import account_as_of
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError
from benefitgate.api.pagination import PageInfo, check_first
from benefitgate.auth.principals import Role
from benefitgate.catalog.cache import catalog_of
from benefitgate.common.changes import InvalidChange
from benefitgate.health import service
from benefitgate.health.ranking import decode_position, encode_position, position
from benefitgate.health.types import HealthFactor, factor_type
from benefitgate.views.types import Account, account_type

__all__ = ["RiskQuery"]

MAX_WINDOW_DAYS = 366


@strawberry.type
class AccountRisk:
    account: Account
    renews_on: date = strawberry.field(
        description="The renewal date the account was ranked by (as of `scoredAt`)."
    )
    score: int = strawberry.field(description="The account's health score, 0 to 100.")
    scored_at: datetime = strawberry.field(
        description="When the health job last computed this score."
    )
    reasons: list[HealthFactor] = strawberry.field(
        description="The health factors scoring below 60, most harmful first."
    )


@strawberry.type
class AccountRiskEdge:
    cursor: str
    node: AccountRisk


@strawberry.type
class AccountRiskConnection:
    edges: list[AccountRiskEdge]
    page_info: PageInfo
    ranked_at: datetime | None = strawberry.field(
        description="The instant of the ranking read: the health job's last round when "
        "the first page was read, kept by every page after it (null before the job "
        "first ran), so that no account is given twice or missed while scores change."
    )


AccountsAtRiskResult = Annotated[
    AccountRiskConnection | ForbiddenError | InvalidInputError,
    strawberry.union("AccountsAtRiskResult"),
]


@strawberry.type
class RiskQuery:
    @strawberry.field(
        description="Accounts whose subscription renews within `renewingWithinDays` days "
        "(0 to 366: today only to a year), most at risk first (lowest health score, then "
        "id), with the reasons. Scores are those the health job stored (see `scoredAt`); "
        "every page of a walk reads the ranking as it stood at its first page "
        "(`rankedAt`), and a cursor serves for a day. Internal tools see every account, "
        "partners their own."
    )
    async def accounts_at_risk(
        self, info: Info, renewing_within_days: int, first: int = 20, after: str | None = None
    ) -> AccountsAtRiskResult:
        context = info.context
        if context.principal.role is Role.FRONTEND:
            return ForbiddenError.of("internal tools and partners only")
        if not 0 <= renewing_within_days <= MAX_WINDOW_DAYS:
            return InvalidInputError.of("renewingWithinDays", "give 0 to 366 days")
        invalid = check_first(first)
        if invalid is not None:
            return invalid
        start = None if after is None else decode_position(after)
        if after is not None and start is None:
            return InvalidInputError.of("after", "after is not a cursor this API produced")
        catalog = await catalog_of(context)
        try:
            async with context.db.acquire() as conn:
                page, more, walk = await service.at_risk(
                    conn, renewing_within_days, context.principal.partner_id, context.now,
                    start, first,
                )  # fmt: skip
        except InvalidChange as refused:
            return InvalidInputError.of(refused.field, str(refused))
        edges = []
        for found, scored in page:
            assert walk is not None and scored.renews_on is not None  # ranked renewals only
            # As every read shows it (`account_loader`): a renewal due and not yet written
            # has happened, as the job that ranked it took it.
            shown = account_as_of(found, catalog, context.now)
            node = AccountRisk(
                account=account_type(shown, catalog, context.now),
                renews_on=scored.renews_on,
                score=scored.health.score,
                scored_at=scored.scored_at,
                reasons=[factor_type(f) for f in scored.health.reasons],
            )
            cursor = encode_position(position(walk, scored))
            edges.append(AccountRiskEdge(cursor=cursor, node=node))
        return AccountRiskConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
            ranked_at=None if walk is None else walk.as_of,
        )
