"""Grant mutations for internal tools: authorise, convert, call one service, map."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.audit.models import AuditEntry
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types
from benefitgate.common.changes import ChangeContext
from benefitgate.entitlements import grants
from benefitgate.entitlements.models import Grant
from benefitgate.entitlements.types import GrantChanged, GrantSource, grant_type

__all__ = ["GrantMutation"]

GrantChangeResult = Annotated[GrantChanged | ChangeError, strawberry.union("GrantChangeResult")]


def _result(changed: tuple[Grant, AuditEntry]) -> dict[str, Any]:
    grant, entry = changed
    return {"grant": grants.snapshot(grant), "auditEntryId": entry.id}


async def _answer(info: Info, applied: Applied | ChangeError) -> GrantChangeResult:
    if not isinstance(applied, Applied):
        return applied
    types = catalog_types(await catalog_of(info.context))
    return GrantChanged(
        grant=grant_type(grants.from_snapshot(applied.result["grant"]), types),
        audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
        replayed=applied.replayed,
    )


async def _account(info: Info, raw_id: str) -> UUID | None:
    account_id = parse_id(raw_id)
    if account_id is None or await visible_account(info, account_id) is None:
        return None
    return account_id


@strawberry.type
class GrantMutation:
    @strawberry.mutation(
        description="Grant a benefit to an account (manual, promotional, trial, or an "
        "add-on), from `validFrom` (default now) until `validUntil` (default: open-ended)."
    )
    async def grant_create(
        self,
        info: Info,
        account_id: strawberry.ID,
        benefit: str,
        source: GrantSource,
        idempotency_key: str,
        amount: float | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        reason: str = "",
    ) -> GrantChangeResult:
        found = await _account(info, account_id)
        if found is None:
            return NotFoundError.of("account")
        catalog = await catalog_of(info.context)
        new = grants.NewGrant(
            found, benefit, source.value, amount, valid_from or info.context.now, valid_until
        )

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return _result(await grants.create_grant(conn, change, new, catalog))

        arguments = {"grant": [str(found), benefit, source.value, amount, valid_from, valid_until]}
        return await _answer(
            info,
            await run_change(
                info,
                operation="grantCreate",
                key=idempotency_key,
                reason=reason,
                arguments=arguments,
                effect=effect,
            ),
        )

    @strawberry.mutation(
        description="Replace the account's limit on a metric with `included`, until "
        "`validUntil`, through an override grant of the metric's limit benefit."
    )
    async def limit_override(
        self,
        info: Info,
        account_id: strawberry.ID,
        metric: str,
        included: float,
        idempotency_key: str,
        valid_until: datetime | None = None,
        reason: str = "",
    ) -> GrantChangeResult:
        found = await _account(info, account_id)
        if found is None:
            return NotFoundError.of("account")
        catalog = await catalog_of(info.context)

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return _result(
                await grants.override_limit(
                    conn, change, found, metric, included, valid_until, catalog
                )
            )

        arguments = {"override": [str(found), metric, included, valid_until]}
        return await _answer(
            info,
            await run_change(
                info,
                operation="limitOverride",
                key=idempotency_key,
                reason=reason,
                arguments=arguments,
                effect=effect,
            ),
        )

    @strawberry.mutation(
        description="Change a grant's amount or end. Omitted fields stay; `validUntil: "
        "null` makes it open-ended. Fails with VERSION_CONFLICT if `expectedVersion` is stale."
    )
    async def grant_update(
        self,
        info: Info,
        grant_id: strawberry.ID,
        expected_version: int,
        idempotency_key: str,
        amount: float | None = strawberry.UNSET,
        valid_until: datetime | None = strawberry.UNSET,
        reason: str = "",
    ) -> GrantChangeResult:
        target = parse_id(grant_id)
        if target is None:
            return NotFoundError.of("grant")
        edits: grants.GrantEdits = {}
        if amount is not strawberry.UNSET:
            edits["amount"] = amount
        if valid_until is not strawberry.UNSET:
            edits["valid_until"] = valid_until
        catalog = await catalog_of(info.context)

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return _result(
                await grants.edit_grant(conn, change, target, expected_version, edits, catalog)
            )

        return await _answer(
            info,
            await run_change(
                info,
                operation="grantUpdate",
                key=idempotency_key,
                reason=reason,
                arguments={"grant": str(target), "version": expected_version, **edits},
                effect=effect,
            ),
        )

    @strawberry.mutation(
        description="Revoke a grant now (an add-on is removed this way); the grant stays "
        "in history. Fails with VERSION_CONFLICT if `expectedVersion` is stale."
    )
    async def grant_revoke(
        self,
        info: Info,
        grant_id: strawberry.ID,
        expected_version: int,
        idempotency_key: str,
        reason: str = "",
    ) -> GrantChangeResult:
        target = parse_id(grant_id)
        if target is None:
            return NotFoundError.of("grant")

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return _result(await grants.revoke_grant(conn, change, target, expected_version))

        return await _answer(
            info,
            await run_change(
                info,
                operation="grantRevoke",
                key=idempotency_key,
                reason=reason,
                arguments={"grant": str(target), "version": expected_version},
                effect=effect,
            ),
        )
