"""Outcome target mutations for internal tools: authorise, convert, call one service."""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated
from uuid import UUID

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.api.changes import change_of, run_write
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types
from benefitgate.common.changes import MAX_REASON
from benefitgate.targets import service
from benefitgate.targets.models import OutcomeTarget, TargetProgress
from benefitgate.targets.types import OutcomeTargetProgress, TargetRemoved, progress_type

__all__ = ["TargetMutation"]

TargetSetResult = Annotated[
    OutcomeTargetProgress | NotFoundError | ForbiddenError | InvalidInputError,
    strawberry.union("OutcomeTargetSetResult"),
]
TargetRemoveResult = Annotated[
    TargetRemoved | NotFoundError | ForbiddenError | InvalidInputError,
    strawberry.union("OutcomeTargetRemoveResult"),
]


async def _target_account(
    info: Info, raw_id: str, reason: str
) -> UUID | ForbiddenError | NotFoundError | InvalidInputError:
    if not info.context.principal.internal:
        return ForbiddenError.of("only internal tools set outcome targets")
    if len(reason) > MAX_REASON:
        return InvalidInputError.of("reason", f"at most {MAX_REASON} characters")
    account_id = parse_id(raw_id)
    if account_id is None or await visible_account(info, account_id) is None:
        return NotFoundError.of("account")
    return account_id


@strawberry.type
class TargetMutation:
    @strawberry.mutation(
        description="Set the account's target for an outcome over the dates `from` to `to` "
        "(inclusive), replacing any earlier one; audited (`outcome_target.set`) and "
        "reversible with `auditRollback`. Setting the same target again is a no-op."
    )
    async def outcome_target_set(
        self,
        info: Info,
        account_id: strawberry.ID,
        outcome: str,
        target: float,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        note: str = "",
        reason: str = "",
    ) -> TargetSetResult:
        found = await _target_account(info, account_id, reason)
        if not isinstance(found, UUID):
            return found
        context = info.context
        wanted = OutcomeTarget(
            account_id=found,
            outcome_key=outcome,
            target=target,
            starts_on=from_,
            ends_on=to,
            note=note,
            set_by=context.principal.subject,
            set_at=context.now,
        )
        catalog = await catalog_of(context)

        async def set_target(conn: asyncpg.Connection) -> list[TargetProgress]:
            await service.set_target(conn, change_of(info, reason), wanted, catalog)
            progress = await service.progress_by_account(
                conn, [wanted.account_id], catalog, context.now.astimezone(UTC).date()
            )
            return progress[wanted.account_id]

        progress = await run_write(info, set_target)
        if not isinstance(progress, list):
            assert isinstance(progress, InvalidInputError), progress  # refuses only input
            return progress
        mine = next(p for p in progress if p.target.outcome_key == outcome)
        return progress_type(mine, catalog_types(catalog))

    @strawberry.mutation(
        description="Remove the account's target for an outcome (audited, as setting is)."
    )
    async def outcome_target_remove(
        self, info: Info, account_id: strawberry.ID, outcome: str, reason: str = ""
    ) -> TargetRemoveResult:
        found = await _target_account(info, account_id, reason)
        if not isinstance(found, UUID):
            return found

        async def remove(conn: asyncpg.Connection) -> bool:
            change = change_of(info, reason)
            return await service.remove_target(conn, change, found, outcome) is not None

        removed = await run_write(info, remove)
        assert isinstance(removed, bool), removed  # removing refuses nothing once checked
        return TargetRemoved(removed=removed)
