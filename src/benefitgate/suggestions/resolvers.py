"""Suggestions across a partner's accounts, and accepting or dismissing one.

Whoever may see the account may decide on its suggestion: the customer's own frontend,
its partner, or an internal tool. Both decisions are idempotent per caller and key.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.pagination import PageInfo, check_first
from benefitgate.api.scalars import parse_id
from benefitgate.auth.principals import Role
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types, money
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.common.text import is_blank
from benefitgate.suggestions import service
from benefitgate.suggestions.models import Suggestion as SuggestionModel
from benefitgate.suggestions.types import (
    Recommendation,
    Suggestion,
    SuggestionAccepted,
    SuggestionConnection,
    SuggestionDismissed,
    SuggestionEdge,
    recommendation_type,
    suggestion_type,
)

__all__ = ["SuggestionMutation", "SuggestionQuery"]

SuggestionsResult = Annotated[
    SuggestionConnection | ForbiddenError | InvalidInputError,
    strawberry.union("SuggestionsResult"),
]
AcceptResult = Annotated[
    SuggestionAccepted | ChangeError, strawberry.union("SuggestionAcceptResult")
]


@strawberry.type
class RecommendationList:
    recommendations: list[Recommendation]


RecommendationsResult = Annotated[
    RecommendationList | NotFoundError, strawberry.union("RecommendationsResult")
]
DismissResult = Annotated[
    SuggestionDismissed | ChangeError, strawberry.union("SuggestionDismissResult")
]


# A walk's place: the round whose ranking it reads and the last (confidence, id) given.
Place = tuple[int, float, UUID]


def _cursor(round_: int, confidence: float, suggestion_id: UUID) -> str:
    text = f"s:{round_}:{confidence}:{suggestion_id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(raw: str) -> Place | InvalidInputError:
    """Only what `_cursor` writes: int(), float() and UUID() also take `nan`, `inf`,
    `1e400`, `1_0`, spaces and signs, braces and URNs, and base64 skips what is not its
    own, so the cursor must be the one its values encode to."""
    try:
        prefix, round_, confidence, suggestion_id = (
            base64.urlsafe_b64decode(raw).decode().split(":")
        )
        found = int(round_), float(confidence), UUID(suggestion_id)
        finite = 0 <= found[0] < 2**63 and math.isfinite(found[1])  # a bigint, a numeric
        if prefix == "s" and finite and _cursor(*found) == raw:
            return found
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    return InvalidInputError.of("after", "after is not a cursor this API produced")


async def _visible(info: Info, raw_id: str) -> SuggestionModel | None:
    """The suggestion if it exists and the caller may see its account; else None."""
    suggestion_id = parse_id(raw_id)
    if suggestion_id is None:
        return None
    async with info.context.db.acquire() as conn:
        found = await service.by_id(conn, suggestion_id)
    if found is None or await visible_account(info, found.account_id) is None:
        return None
    return found


@strawberry.type
class SuggestionQuery:
    @strawberry.field(
        description="Right-sizing and adoption recommendations for the account, beside its "
        "upgrade suggestion and with evidence like it: a lower tier (or a lower tier and an "
        "add-on) when usage stays far below its limits, an add-on instead of a whole tier, "
        "and included benefits unused for 60 days with what they would move. Computed "
        "from the evidence now."
    )
    async def recommendations(self, info: Info, account_id: strawberry.ID) -> RecommendationsResult:
        parsed = parse_id(account_id)
        account = None if parsed is None else await visible_account(info, parsed)
        if account is None:
            return NotFoundError.of("account")
        catalog = await catalog_of(info.context)
        async with info.context.db.acquire() as conn:
            found = await service.recommendations_of(conn, account, catalog, info.context.now)
        types = catalog_types(catalog)
        return RecommendationList(recommendations=[recommendation_type(r, types) for r in found])

    @strawberry.field(
        description="Open upgrade suggestions across the accounts the caller manages, most "
        "confident first (then by id). A walk through the pages reads the ranking of its "
        "first page to its end: every page ranks by the confidence each suggestion had "
        "then (the edge's `rankedConfidence`; the node's may have changed since), so no "
        "suggestion is given twice or missed while the suggestion job changes "
        "confidences. A suggestion that left the list since (accepted, dismissed or "
        "withdrawn, none of which comes back, or its account no longer the caller's) is "
        "not given, and one opened since waits for the next walk. A cursor serves for a "
        "day at least; then `INVALID_INPUT` on `after` says to start again. "
        "Frontends read their account's on `account { suggestion }`."
    )
    async def suggestions(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> SuggestionsResult:
        principal = info.context.principal
        if principal.role is Role.FRONTEND:
            return ForbiddenError.of("frontends read their account's suggestion on `account`")
        invalid = check_first(first)
        if invalid is not None:
            return invalid
        place = None if after is None else _decode(after)
        if isinstance(place, InvalidInputError):
            return place
        try:
            async with info.context.db.acquire() as conn:
                found = await service.open_page(
                    conn,
                    round_=None if place is None else place[0],
                    partner_id=principal.partner_id,
                    after=None if place is None else place[1:],
                    limit=first + 1,
                )
        except InvalidChange as refused:
            return InvalidInputError.of(refused.field, str(refused))
        types = catalog_types(await catalog_of(info.context))
        edges = [
            SuggestionEdge(
                cursor=_cursor(found.round, ranked, s.id),
                node=suggestion_type(s, types),
                ranked_confidence=ranked,
            )
            for s, ranked in found.page[:first]
        ]
        return SuggestionConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(found.page) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


Act = Callable[[asyncpg.Connection, ChangeContext, UUID], Awaitable[dict[str, Any]]]


async def _decide(
    info: Info, raw_id: str, operation: str, key: str, reason: str, days: int | None, act: Act
) -> Applied | ChangeError:
    """Run `act` on a visible suggestion as one idempotent change."""
    found = await _visible(info, raw_id)
    if found is None:
        return NotFoundError.of("suggestion")

    async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
        return await act(conn, change, found.id)

    return await run_change(
        info,
        operation=operation,
        key=key,
        reason=reason,
        arguments={"suggestion": str(found.id), "days": days},
        effect=effect,
        internal_only=False,
    )


async def _reloaded(info: Info, raw_id: str) -> Suggestion:
    """The suggestion as it stands now, for the answer of a decision or its replay."""
    async with info.context.db.acquire() as conn:
        found = await service.by_id(conn, UUID(raw_id))
    assert found is not None  # suggestions are never deleted
    return suggestion_type(found, catalog_types(await catalog_of(info.context)))


@strawberry.type
class SuggestionMutation:
    @strawberry.mutation(
        description="Accept an open suggestion: the account moves to the suggested tier now, "
        "prorated, through the same audited tier change internal tools make."
    )
    async def suggestion_accept(
        self, info: Info, id: strawberry.ID, idempotency_key: str, reason: str = ""
    ) -> AcceptResult:
        catalog = await catalog_of(info.context)

        async def accept(conn: asyncpg.Connection, change: ChangeContext, found: UUID) -> Any:
            accepted = await service.accept(conn, change, found, catalog)
            return {
                "auditEntryId": accepted.entry.id,
                "amountDueCents": accepted.plan.amount_due_cents,
                "currency": accepted.plan.currency,
            }

        operation = "suggestionAccept"
        applied = await _decide(info, id, operation, idempotency_key, reason, None, accept)
        if not isinstance(applied, Applied):
            return applied
        result = applied.result
        return SuggestionAccepted(
            suggestion=await _reloaded(info, id),
            audit_entry_id=strawberry.ID(str(result["auditEntryId"])),
            amount_due=money(result["amountDueCents"], result["currency"]),
            replayed=applied.replayed,
        )

    @strawberry.mutation(
        description="Dismiss an open suggestion, saying why. No new suggestion opens for the "
        "account for `days` (1 to 365, default 30) unless the evidence grows."
    )
    async def suggestion_dismiss(
        self, info: Info, id: strawberry.ID, reason: str, idempotency_key: str, days: int = 30
    ) -> DismissResult:
        if is_blank(reason):
            return InvalidInputError.of("reason", "say why the suggestion is dismissed")
        if not 1 <= days <= 365:
            return InvalidInputError.of("days", "days must be between 1 and 365")

        async def dismiss(conn: asyncpg.Connection, change: ChangeContext, found: UUID) -> Any:
            await service.dismiss(conn, change, found, timedelta(days=days))
            return {}

        operation = "suggestionDismiss"
        applied = await _decide(info, id, operation, idempotency_key, reason, days, dismiss)
        if not isinstance(applied, Applied):
            return applied
        return SuggestionDismissed(suggestion=await _reloaded(info, id), replayed=applied.replayed)
