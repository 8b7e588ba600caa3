"""Partners (internal tools only): create one, and link it to or unlink it from the
accounts it manages; visibility follows at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry

from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.scalars import parse_id
from benefitgate.audit.models import AuditEntry
from benefitgate.common.changes import ChangeContext, TargetNotFound
from benefitgate.partners import service
from benefitgate.partners.types import PartnerCreated, PartnerLinkChanged

__all__ = ["PartnerMutation"]

PartnerCreateResult = Annotated[
    PartnerCreated | ChangeError, strawberry.union("PartnerCreateResult")
]
PartnerLinkResult = Annotated[
    PartnerLinkChanged | ChangeError, strawberry.union("PartnerLinkResult")
]
LinkChange = Callable[[asyncpg.Connection, ChangeContext, UUID, UUID], Awaitable[AuditEntry | None]]


def _id(raw: str, what: str) -> UUID:
    parsed = parse_id(raw)
    if parsed is None:
        raise TargetNotFound(what)
    return parsed


async def _link_change(
    info: Info,
    operation: str,
    apply: LinkChange,
    partner_id: str,
    account_id: str,
    key: str,
    reason: str,
) -> PartnerLinkResult:
    async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
        entry = await apply(conn, change, _id(partner_id, "partner"), _id(account_id, "account"))
        return {"changed": entry is not None}

    applied = await run_change(
        info,
        operation=operation,
        key=key,
        reason=reason,
        arguments={"partner": partner_id, "account": account_id},
        effect=effect,
    )
    if not isinstance(applied, Applied):
        return applied
    return PartnerLinkChanged(
        partner_id=strawberry.ID(partner_id),
        account_id=strawberry.ID(account_id),
        linked=apply is service.link,
        changed=applied.result["changed"],
        replayed=applied.replayed,
    )


@strawberry.type
class PartnerMutation:
    @strawberry.mutation(description="Create a partner; give it API keys with the CLI.")
    async def partner_create(
        self, info: Info, name: str, idempotency_key: str, reason: str = ""
    ) -> PartnerCreateResult:
        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            partner = await service.create(conn, change, name)
            return {
                "id": str(partner.id),
                "name": partner.name,
                "at": partner.created_at.isoformat(),
            }

        applied = await run_change(
            info,
            operation="partnerCreate",
            key=idempotency_key,
            reason=reason,
            arguments={"name": name},
            effect=effect,
        )
        if not isinstance(applied, Applied):
            return applied
        r = applied.result
        return PartnerCreated(
            id=strawberry.ID(r["id"]),
            name=r["name"],
            created_at=datetime.fromisoformat(r["at"]),
            replayed=applied.replayed,
        )

    @strawberry.mutation(description="Let the partner manage the account, from now on.")
    async def partner_link_account(
        self,
        info: Info,
        partner_id: strawberry.ID,
        account_id: strawberry.ID,
        idempotency_key: str,
        reason: str = "",
    ) -> PartnerLinkResult:
        return await _link_change(
            info,
            "partnerLinkAccount",
            service.link,
            partner_id,
            account_id,
            idempotency_key,
            reason,
        )

    @strawberry.mutation(
        description="Stop the partner managing the account: its keys, streams and webhooks "
        "see nothing more of it, at once."
    )
    async def partner_unlink_account(
        self,
        info: Info,
        partner_id: strawberry.ID,
        account_id: strawberry.ID,
        idempotency_key: str,
        reason: str = "",
    ) -> PartnerLinkResult:
        return await _link_change(
            info,
            "partnerUnlinkAccount",
            service.unlink,
            partner_id,
            account_id,
            idempotency_key,
            reason,
        )
