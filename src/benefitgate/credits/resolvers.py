"""Credits: consumption through a credit's metric by partners and internal tools, and the
account view's `credits`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader

from benefitgate.accounts.access import visible_account
from benefitgate.accounts.models import Account
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Context, Info, RequestConnection
from benefitgate.api.errors import ForbiddenError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.auth.principals import Role
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.types import catalog_types
from benefitgate.common.changes import ChangeContext
from benefitgate.credits import service
from benefitgate.credits.models import Credit, CreditShort, Spent
from benefitgate.credits.types import (
    AccountCredit,
    CreditConsumed,
    CreditsExhaustedError,
    consumed_type,
    credit_type,
    exhausted_type,
)
from benefitgate.metering.models import Suspended
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.types import AccountSuspendedError, suspended_type

__all__ = ["CreditMutation", "account_credits"]

CreditConsumeResult = Annotated[
    CreditConsumed | CreditsExhaustedError | AccountSuspendedError | ChangeError,
    strawberry.union("CreditConsumeResult"),
]


def _credits_loader(context: Context) -> DataLoader[UUID, list[Credit]]:
    return DataLoader(load_fn=partial(_credits, context.db, context.now))


async def _credits(db: RequestConnection, now: datetime, ids: Sequence[UUID]) -> list[list[Credit]]:
    async with db.acquire() as conn:
        found = await service.credits_by_account(conn, ids, now)
    return [found[i] for i in ids]


async def account_credits(info: Info, account_id: UUID, catalog: Catalog) -> list[AccountCredit]:
    """The account's credits, for the account view (which authorised the caller)."""
    found = await info.context.loader(_credits_loader).load(account_id)
    types = catalog_types(catalog)
    return [credit_type(c, types) for c in found if c.benefit_key in types.benefits]


def _stored(result: Spent | CreditShort | Suspended) -> dict[str, Any]:
    if isinstance(result, Suspended):
        return {"suspended": [str(result.account_id), result.status]}
    if isinstance(result, CreditShort):
        return {"short": [result.metric_key, str(result.requested), str(result.balance)]}
    draws = [[str(g), str(a), None if e is None else e.isoformat()] for g, a, e in result.draws]
    return {
        "spent": [result.metric_key, str(result.amount), str(result.balance)],
        "draws": draws,
    }


def _loaded(stored: dict[str, Any]) -> Spent | CreditShort | Suspended:
    if "suspended" in stored:
        account_id, status = stored["suspended"]
        return Suspended(UUID(account_id), status)
    if "short" in stored:
        metric, requested, balance = stored["short"]
        return CreditShort(metric, Decimal(requested), Decimal(balance))
    metric, amount, balance = stored["spent"]
    draws = [
        (UUID(g), Decimal(a), None if e is None else datetime.fromisoformat(e))
        for g, a, e in stored["draws"]
    ]
    return Spent(metric, Decimal(amount), draws, Decimal(balance))


async def _consumer(info: Info, raw_id: str) -> Account | ForbiddenError | NotFoundError:
    if info.context.principal.role is Role.FRONTEND:
        return ForbiddenError.of("frontends cannot consume credits")
    account_id = parse_id(raw_id)
    account = None if account_id is None else await visible_account(info, account_id)
    return NotFoundError.of("account") if account is None else account


@strawberry.type
class CreditMutation:
    @strawberry.mutation(
        description="Consume the account's credits measured by `metric`: drawn from the "
        "grants that end soonest, and recorded as usage of the metric. Exact under any "
        "concurrency; CREDITS_EXHAUSTED, consuming nothing, when they hold less. Partners "
        "(their accounts) and internal tools; once per idempotency key."
    )
    async def credit_consume(
        self,
        info: Info,
        account_id: strawberry.ID,
        metric: str,
        amount: float,
        idempotency_key: str,
    ) -> CreditConsumeResult:
        context = info.context
        account = await _consumer(info, account_id)
        if not isinstance(account, Account):
            return account
        catalog = await catalog_of(context)
        async with context.db.acquire() as conn:  # outside the change's transaction
            await context.shared.get(Partitions).ensure(conn, service.months(context.now))
        event = service.event_id(context.principal.idempotency_scope, idempotency_key)

        async def effect(conn: asyncpg.Connection, _: ChangeContext) -> dict[str, Any]:
            result = await service.consume(
                conn, context.principal, account, metric, amount, event, catalog, context.now
            )
            return _stored(result)

        applied = await run_change(
            info,
            operation="creditConsume",
            key=idempotency_key,
            reason=None,
            arguments={"account": str(account.id), "metric": metric, "amount": amount},
            effect=effect,
            internal_only=False,  # any partner or internal tool that sees the account
        )
        if not isinstance(applied, Applied):
            return applied
        result = _loaded(applied.result)
        if isinstance(result, CreditShort):
            return exhausted_type(result, applied.replayed)
        if isinstance(result, Suspended):
            return suspended_type(result, applied.replayed)
        return consumed_type(result, applied.replayed)
