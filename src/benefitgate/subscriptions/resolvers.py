"""Tier changes: a preview anyone who sees the account may ask for, and the changes for
internal tools."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.accounts.models import Account
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.audit.models import AuditEntry
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.subscriptions import provisioning, service, trials
from benefitgate.subscriptions.proration import TierChangePlan
from benefitgate.subscriptions.types import (
    SubscriptionChanged,
    Term,
    TierChangePreview,
    preview_type,
    subscription_type,
)

__all__ = [
    "SubscriptionChangeResult",
    "SubscriptionLifecycleMutation",
    "SubscriptionMutation",
    "SubscriptionQuery",
    "answer",
    "stored_result",
]

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


def stored_result(entry: AuditEntry, plan: TierChangePlan | None) -> dict[str, Any]:
    """The stored result: the subscription as the change left it (the entry's snapshot)."""
    change = None if plan is None else service.plan_json(plan)
    return {"auditEntryId": entry.id, "subscription": entry.after, "change": change}


Done = tuple[AuditEntry, TierChangePlan | None]
Act = Callable[[asyncpg.Connection, ChangeContext, UUID], Awaitable[Done]]


async def _change(
    info: Info,
    account_id: strawberry.ID,
    operation: str,
    arguments: dict[str, Any],
    key: str,
    reason: str,
    act: Act,
) -> SubscriptionChangeResult:
    """Run `act` on a visible account's subscription as one audited, idempotent change."""
    account = await _account(info, account_id)
    if account is None:
        return NotFoundError.of("account")

    async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
        return stored_result(*await act(conn, change, account.id))

    applied = await run_change(
        info,
        operation=operation,
        key=key,
        reason=reason,
        arguments={"account": str(account.id), **arguments},
        effect=effect,
    )
    return await answer(info, applied)


async def answer(info: Info, applied: Applied | ChangeError) -> SubscriptionChangeResult:
    if not isinstance(applied, Applied):
        return applied
    types = catalog_types(await catalog_of(info.context))
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
        catalog = await catalog_of(info.context)
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
        catalog = await catalog_of(info.context)

        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            plan, entry = await service.change_tier(
                conn, change, account, tier, expected_version, catalog
            )
            return entry, plan

        arguments = {"tier": tier, "version": expected_version}
        operation = "subscriptionChangeTier"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)

    @strawberry.mutation(
        description="Move the account to `term` at the end of the period, beside any "
        "scheduled tier change; the current term drops a scheduled term change."
    )
    async def subscription_change_term(
        self,
        info: Info,
        account_id: strawberry.ID,
        term: Term,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            entry = await service.change_term(conn, change, account, term.value, expected_version)
            return entry, None

        arguments = {"term": term.value, "version": expected_version}
        operation = "subscriptionChangeTerm"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)

    @strawberry.mutation(description="Cancel the account's scheduled tier and term changes.")
    async def subscription_cancel_scheduled_change(
        self,
        info: Info,
        account_id: strawberry.ID,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            entry = await service.cancel_scheduled_change(conn, change, account, expected_version)
            return entry, None

        arguments = {"version": expected_version}
        operation = "subscriptionCancelScheduledChange"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)

    @strawberry.mutation(
        description="Put an active account on a higher `tier` for `days` days (1 to 90). "
        "At the end it falls back to its tier before the trial, unless "
        "`subscriptionSetTrialConversion` says it converts. The billing period runs on."
    )
    async def subscription_start_trial(
        self,
        info: Info,
        account_id: strawberry.ID,
        tier: str,
        days: int,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        catalog = await catalog_of(info.context)

        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            entry = await trials.start_trial(
                conn, change, account, tier, days, expected_version, catalog
            )
            return entry, None

        arguments = {"tier": tier, "days": days, "version": expected_version}
        operation = "subscriptionStartTrial"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)

    @strawberry.mutation(
        description="Say what the trial does at its end: keep its tier and pay the rest of "
        "the period (`convert: true`) or fall back (`convert: false`, the default)."
    )
    async def subscription_set_trial_conversion(
        self,
        info: Info,
        account_id: strawberry.ID,
        convert: bool,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            entry = await trials.set_trial_conversion(
                conn, change, account, convert, expected_version
            )
            return entry, None

        arguments = {"convert": convert, "version": expected_version}
        operation = "subscriptionSetTrialConversion"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)


@strawberry.enum
class DunningStatus(enum.Enum):
    ACTIVE = "active"
    PAST_DUE = "past_due"


@strawberry.type
class SubscriptionLifecycleMutation:
    @strawberry.mutation(
        description="Subscribe the account to the tier's version in force at `startsAt` "
        "(now by default, or a past start within a year; a later one is INVALID_INPUT), "
        "trialing for `trialDays` first. ALREADY_EXISTS when it has one."
    )
    async def subscription_create(
        self,
        info: Info,
        account_id: strawberry.ID,
        tier: str,
        term: Term,
        seats: int,
        idempotency_key: str,
        starts_at: datetime | None = None,
        trial_days: int = 0,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        catalog = await catalog_of(info.context)

        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            entry = await provisioning.create(
                conn, change, account, tier, term.value, seats, starts_at, trial_days, catalog
            )
            return entry, None

        arguments = {"tier": tier, "term": term.value, "seats": seats, "trialDays": trial_days,
                     "startsAt": None if starts_at is None else starts_at.isoformat()}  # fmt: skip
        operation = "subscriptionCreate"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)

    @strawberry.mutation(
        description="Cancel now, or at the end of the current period (`atPeriodEnd`, the "
        "default): the scheduler ends it then, and `subscriptionReactivate` undoes it before."
    )
    async def subscription_cancel(
        self,
        info: Info,
        account_id: strawberry.ID,
        expected_version: int,
        idempotency_key: str,
        at_period_end: bool = True,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            entry = await provisioning.cancel(
                conn, change, account, expected_version, at_period_end
            )
            return entry, None

        arguments = {"version": expected_version, "atPeriodEnd": at_period_end}
        operation = "subscriptionCancel"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)

    @strawberry.mutation(description="Undo a cancellation scheduled for the period's end.")
    async def subscription_reactivate(
        self,
        info: Info,
        account_id: strawberry.ID,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            return await provisioning.reactivate(conn, change, account, expected_version), None

        arguments = {"version": expected_version}
        operation = "subscriptionReactivate"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)

    @strawberry.mutation(
        description="Move the subscription between ACTIVE and PAST_DUE, as a billing "
        "system's dunning does; a past-due account is suspended until it is active again."
    )
    async def subscription_set_status(
        self,
        info: Info,
        account_id: strawberry.ID,
        status: DunningStatus,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> SubscriptionChangeResult:
        async def act(conn: asyncpg.Connection, change: ChangeContext, account: UUID) -> Done:
            entry = await provisioning.set_status(
                conn, change, account, expected_version, status.value
            )
            return entry, None

        arguments = {"status": status.value, "version": expected_version}
        operation = "subscriptionSetStatus"
        return await _change(info, account_id, operation, arguments, idempotency_key, reason, act)
