"""Self-serve for frontends: the policy, a preview of each action, and the actions, on
the account of the caller's token. Whoever else calls them is refused FORBIDDEN: internal
tools have the `subscription*` mutations, partners change no subscription."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.accounts.models import Account
from benefitgate.api.changes import run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.auth.principals import Role
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types
from benefitgate.common.changes import ChangeContext, Forbidden, InvalidChange, TargetNotFound
from benefitgate.selfserve import service
from benefitgate.selfserve.models import Action, Policy, Request
from benefitgate.selfserve.types import (
    SelfServePolicy,
    SelfServePreview,
    policy_type,
    preview_type,
)
from benefitgate.subscriptions.resolvers import SubscriptionChangeResult, answer, stored_result
from benefitgate.subscriptions.types import Term

__all__ = ["SelfServeMutation", "SelfServeQuery"]

PreviewResult = Annotated[
    SelfServePreview | ForbiddenError | NotFoundError | InvalidInputError,
    strawberry.union("SelfServePreviewResult"),
]
REASON = "self-serve"  # the audit entry's reason: the customer acted, not the vendor


def _frontends_only(info: Info) -> ForbiddenError | None:
    if info.context.principal.role is Role.FRONTEND:
        return None
    return ForbiddenError.of("self-serve actions are for frontend tokens on their own account")


async def _account(info: Info, raw_id: str) -> Account | None:
    account_id = parse_id(raw_id)
    return None if account_id is None else await visible_account(info, account_id)


async def _act(
    info: Info, account_id: strawberry.ID, request: Request, expected_version: int, key: str
) -> SubscriptionChangeResult:
    """Run the request on the caller's account as one audited, idempotent change."""
    refused = _frontends_only(info)
    if refused is not None:
        return refused
    account = await _account(info, account_id)
    if account is None:
        return NotFoundError.of("account")
    policy = info.context.shared.get(Policy)
    catalog = await catalog_of(info.context)

    async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
        step, entry = await service.act(
            conn, change, account.id, expected_version, request, policy, catalog
        )
        return stored_result(entry, step.plan)

    arguments = {"account": str(account.id), "version": expected_version,
                 "tier": request.tier, "term": request.term}  # fmt: skip
    applied = await run_change(
        info,
        operation=f"selfServe.{request.action.value}",
        key=key,
        reason=REASON,
        arguments=arguments,
        effect=effect,
        internal_only=False,  # a frontend, on the account it sees; the policy decides
    )
    return await answer(info, applied)


@strawberry.type
class SelfServeQuery:
    @strawberry.field(description="What the vendor lets frontends change on their account.")
    def self_serve_policy(self, info: Info) -> SelfServePolicy:
        return policy_type(info.context.shared.get(Policy))

    @strawberry.field(
        description="What a self-serve action would do to the account and what it would "
        "cost, refused as the action would be (FORBIDDEN when the policy leaves it off). "
        "Give `tier` for a trial or a downgrade, `term` for a term change."
    )
    async def self_serve_preview(
        self,
        info: Info,
        account_id: strawberry.ID,
        action: Action,
        tier: str | None = None,
        term: Term | None = None,
    ) -> PreviewResult:
        refused = _frontends_only(info)
        if refused is not None:
            return refused
        account = await _account(info, account_id)
        if account is None:
            return NotFoundError.of("account")
        request = Request(action, tier, None if term is None else term.value)
        catalog = await catalog_of(info.context)
        policy = info.context.shared.get(Policy)
        sub, now = account.subscription, info.context.now
        try:
            async with info.context.db.acquire() as conn:
                seen = await service.preview(conn, account.id, sub, request, policy, catalog, now)
        except Forbidden as exc:
            return ForbiddenError.of(str(exc))
        except TargetNotFound as exc:
            return NotFoundError.of(exc.what)
        except InvalidChange as exc:
            return InvalidInputError.of(exc.field, str(exc))
        assert sub is not None  # the preview refuses an account without one
        return preview_type(seen, sub, catalog, catalog_types(catalog))


@strawberry.type
class SelfServeMutation:
    @strawberry.mutation(
        description="Start a trial of a higher `tier` for the policy's `trialDays`; it falls "
        "back at its end. Once per account and tier. Switch: `trial`."
    )
    async def self_serve_start_trial(
        self, info: Info, account_id: strawberry.ID, tier: str, expected_version: int,
        idempotency_key: str,
    ) -> SubscriptionChangeResult:  # fmt: skip
        request = Request(Action.START_TRIAL, tier=tier)
        return await _act(info, account_id, request, expected_version, idempotency_key)

    @strawberry.mutation(
        description="Schedule a downgrade to a lower `tier` for the period's end. Switch: "
        "`downgrade`."
    )
    async def self_serve_schedule_downgrade(
        self, info: Info, account_id: strawberry.ID, tier: str, expected_version: int,
        idempotency_key: str,
    ) -> SubscriptionChangeResult:  # fmt: skip
        request = Request(Action.SCHEDULE_DOWNGRADE, tier=tier)
        return await _act(info, account_id, request, expected_version, idempotency_key)

    @strawberry.mutation(
        description="Schedule a move to `term` for the period's end (the current term drops "
        "a scheduled term change). Switch: `term`."
    )
    async def self_serve_schedule_term_change(
        self, info: Info, account_id: strawberry.ID, term: Term, expected_version: int,
        idempotency_key: str,
    ) -> SubscriptionChangeResult:  # fmt: skip
        request = Request(Action.SCHEDULE_TERM_CHANGE, term=term.value)
        return await _act(info, account_id, request, expected_version, idempotency_key)

    @strawberry.mutation(
        description="Cancel the scheduled downgrade and term change. Switches: those of the "
        "changes scheduled."
    )
    async def self_serve_cancel_scheduled_change(
        self, info: Info, account_id: strawberry.ID, expected_version: int, idempotency_key: str
    ) -> SubscriptionChangeResult:
        request = Request(Action.CANCEL_SCHEDULED_CHANGE)
        return await _act(info, account_id, request, expected_version, idempotency_key)

    @strawberry.mutation(description="Cancel at the end of the current period. Switch: `cancel`.")
    async def self_serve_cancel(
        self, info: Info, account_id: strawberry.ID, expected_version: int, idempotency_key: str
    ) -> SubscriptionChangeResult:
        request = Request(Action.CANCEL_AT_PERIOD_END)
        return await _act(info, account_id, request, expected_version, idempotency_key)

    @strawberry.mutation(
        description="Undo a cancellation scheduled for the period's end. Switch: `cancel`."
    )
    async def self_serve_undo_cancel(
        self, info: Info, account_id: strawberry.ID, expected_version: int, idempotency_key: str
    ) -> SubscriptionChangeResult:
        request = Request(Action.UNDO_CANCEL)
        return await _act(info, account_id, request, expected_version, idempotency_key)
