"""Tier changes: a preview anyone who sees the account may ask for, and the changes for
internal tools."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.accounts.models import Account
from benefitgate.accounts.resolvers import parse_id, visible_account
from benefitgate.accounts.types import subscription_type
from benefitgate.audit.models import AuditEntry
from benefitgate.catalog.types import catalog_types
from benefitgate.changes import ChangeContext, InvalidChange
from benefitgate.graphql.changes import Applied, ChangeError, run_change
from benefitgate.graphql.context import Info
from benefitgate.graphql.errors import InvalidInputError, NotFoundError
from benefitgate.subscriptions import service
from benefitgate.subscriptions.proration import TierChangePlan
from benefitgate.subscriptions.types import SubscriptionChanged, TierChangePreview, preview_type

__all__ = ["SubscriptionMutation", "SubscriptionQuery"]

PreviewResult = Annotated[
    TierChangePreview | NotFoundError | InvalidInputError,
    strawberry.union("TierChangePreviewResult"),
]
SubscriptionChangeResult = Annotated[
    SubscriptionChanged | ChangeError, strawberry.union("SubscriptionChangeResult")
]


async def _account(info: Info, raw_id: str) -> Account | None:
    account_id = parse_id(raw_id)
    return None if account_id is None else await visible_account(info, account_id)


def _result(entry: AuditEntry, plan: TierChangePlan | None) -> dict[str, Any]:
    """The stored result: the subscription as the change left it (the entry's snapshot)."""
    change = None if plan is None else service.plan_json(plan)
    return {"auditEntryId": entry.id, "subscription": entry.after, "change": change}


async def _answer(info: Info, applied: Applied | ChangeError) -> SubscriptionChangeResult:
    if not isinstance(applied, Applied):
        return applied
    types = catalog_types(await info.context.catalog())
    plan = applied.result["change"]
    return SubscriptionChanged(
        subscription=subscription_type(
            service.from_snapshot(applied.result["subscription"]), types
        ),
        change=None if plan is None else preview_type(plan, types),
        audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
        replayed=applied.replayed,
    )


@strawberry.type
class SubscriptionQuery:
    @strawberry.field(description="What changing the account to `tier` would do and cost now.")
    async def tier_change_preview(
        self, info: Info, account_id: strawberry.ID, tier: str
    ) -> PreviewResult:
        account = await _account(info, account_id)
        if account is None or account.subscription is None:
            return NotFoundError.of("subscription")
        catalog = await info.context.catalog()
        try:
            plan = service.preview_tier_change(
                account.subscription, tier, catalog, info.context.now
            )
        except InvalidChange as exc:
            return InvalidInputError.of(exc.field, str(exc))
        return preview_type(service.plan_json(plan), catalog_types(catalog))


@strawberry.type
class SubscriptionMutation:
    @strawberry.mutation(
        description="Move the account to `tier`: an upgrade takes effect now and is "
        "prorated; a downgrade is scheduled for the end of the period (see "
        "`subscriptionCancelScheduledChange`)."
    )
    async def subscription_change_tier(
        self,
        info: Info,
        account_id: strawberry.ID,
        tier: str,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        account = await _account(info, account_id)
        if account is None:
            return NotFoundError.of("account")
        catalog = await info.context.catalog()

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            plan, entry = await service.change_tier(
                conn, change, account.id, tier, expected_version, catalog
            )
            return _result(entry, plan)

        applied = await run_change(
            info,
            operation="subscriptionChangeTier",
            key=idempotency_key,
            reason=reason,
            arguments={"account": str(account.id), "tier": tier, "version": expected_version},
            effect=effect,
        )
        return await _answer(info, applied)

    @strawberry.mutation(description="Cancel the account's scheduled downgrade.")
    async def subscription_cancel_scheduled_change(
        self,
        info: Info,
        account_id: strawberry.ID,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        account = await _account(info, account_id)
        if account is None:
            return NotFoundError.of("account")

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            entry = await service.cancel_scheduled_change(
                conn, change, account.id, expected_version
            )
            return _result(entry, None)

        applied = await run_change(
            info,
            operation="subscriptionCancelScheduledChange",
            key=idempotency_key,
            reason=reason,
            arguments={"account": str(account.id), "version": expected_version},
            effect=effect,
        )
        return await _answer(info, applied)
