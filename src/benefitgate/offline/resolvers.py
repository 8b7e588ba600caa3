"""The entitlement snapshot query: authorise as the entitlement check does, sign."""

from __future__ import annotations

from typing import Annotated

import strawberry

from benefitgate.api.context import Info
from benefitgate.api.errors import NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.catalog.cache import catalog_of
from benefitgate.offline import service
from benefitgate.offline.service import Signer
from benefitgate.offline.types import EntitlementSnapshot

__all__ = ["OfflineQuery"]

EntitlementSnapshotResult = Annotated[
    EntitlementSnapshot | NotFoundError, strawberry.union("EntitlementSnapshotResult")
]


@strawberry.type
class OfflineQuery:
    @strawberry.field(
        description="The account's effective entitlements and limits now, signed, for "
        "checks made offline or at the edge until it expires. Whoever may check the "
        "account's entitlements may ask (a frontend token: its own account)."
    )
    async def entitlement_snapshot(
        self, info: Info, account_id: strawberry.ID
    ) -> EntitlementSnapshotResult:
        context = info.context
        parsed = parse_id(account_id)
        if parsed is None:
            return NotFoundError.of("account")
        async with context.db.acquire() as conn:
            snapshot = await service.load(conn, parsed)
        if snapshot is None or not context.principal.can_see(
            snapshot.account.id, snapshot.account.partner_ids
        ):
            return NotFoundError.of("account")
        catalog, signer = await catalog_of(context), context.shared.get(Signer)
        async with context.db.acquire() as conn:
            signed = await service.sign(conn, snapshot, catalog, signer, context.now)
        return EntitlementSnapshot(
            token=signed.token,
            key_id=signed.kid,
            issued_at=signed.issued_at,
            expires_at=signed.expires_at,
        )
