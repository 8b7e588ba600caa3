"""The impact summary of an account, and the value per unit of an outcome it prices with."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.catalog import outcome_values
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import Outcome, catalog_types
from benefitgate.catalog.version_resolvers import catalog_after_change
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.impact import service
from benefitgate.impact.types import ImpactPeriod, ImpactSummary, impact_type

__all__ = ["ImpactMutation", "ImpactQuery"]

ImpactResult = Annotated[
    ImpactSummary | NotFoundError | InvalidInputError, strawberry.union("ImpactSummaryResult")
]


@strawberry.type
class OutcomeValueSet:
    outcome: Outcome
    audit_entry_id: strawberry.ID
    replayed: bool


OutcomeValueResult = Annotated[
    OutcomeValueSet | ChangeError, strawberry.union("OutcomeValueResult")
]


@strawberry.type
class ImpactQuery:
    @strawberry.field(
        description="What the license delivered to the account over the calendar quarter "
        "so far, the current term so far (from its start instant), or the days `from` to "
        "`to` (inclusive, at most three years: `to` before the same date three years after "
        "`from`): usage against limits, milestones, benefits used, outcomes against "
        "targets, the value delivered, and what is new in the catalog since the renewal."
    )
    async def impact_summary(
        self,
        info: Info,
        account_id: strawberry.ID,
        period: ImpactPeriod | None = None,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
    ) -> ImpactResult:
        parsed = parse_id(account_id)
        account = None if parsed is None else await visible_account(info, parsed)
        if account is None:
            return NotFoundError.of("account")
        now = info.context.now
        try:
            days = service.days_of(period.value if period else None, from_, to, account, now)
        except InvalidChange as exc:
            return InvalidInputError.of(exc.field, str(exc))
        catalog = await catalog_of(info.context)
        # The summary runs its statements on two pooled connections at once: the request
        # gives its own back first, so that it never holds one while waiting for more.
        await info.context.db.release()
        found = await service.summary(info.context.pool, account, days, catalog, now)
        return impact_type(found, catalog_types(catalog))


@strawberry.type
class ImpactMutation:
    @strawberry.mutation(
        description="Set what a unit of an outcome is worth (an hour saved at a loaded "
        "hourly rate, say), or clear it with null; impact summaries price outcomes with it."
    )
    async def outcome_value_set(
        self,
        info: Info,
        outcome: str,
        amount_cents: int | None,
        currency: str | None,
        idempotency_key: str,
        reason: str = "",
    ) -> OutcomeValueResult:
        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            _, entry = await outcome_values.set_outcome_value(
                conn, change, outcome, amount_cents, currency
            )
            return {"auditEntryId": entry.id}

        applied = await run_change(
            info,
            operation="outcomeValueSet",
            key=idempotency_key,
            reason=reason,
            arguments={"outcome": outcome, "amountCents": amount_cents, "currency": currency},
            effect=effect,
        )
        if not isinstance(applied, Applied):
            return applied
        types = catalog_types(await catalog_after_change(info))
        return OutcomeValueSet(
            outcome=types.outcomes[outcome],
            audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
            replayed=applied.replayed,
        )
