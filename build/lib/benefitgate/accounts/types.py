"""GraphQL types of provisioned accounts."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from benefitgate.accounts.models import AccountProfile

__all__ = ["AccountProvisioned", "account_record"]


@strawberry.type(description="An account as provisioning sets it.")
class AccountRecord:
    id: strawberry.ID
    external_id: str | None = strawberry.field(
        description="The vendor's own id for the account (its billing customer id)."
    )
    name: str
    metadata: JSON
    version: int = strawberry.field(description="Pass as `expectedVersion` to change it.")
    created_at: datetime


@strawberry.type
class AccountProvisioned:
    account: AccountRecord
    replayed: bool


def account_record(p: AccountProfile) -> AccountRecord:
    return AccountRecord(
        id=strawberry.ID(str(p.id)),
        external_id=p.external_id,
        name=p.name,
        metadata=JSON(p.metadata),
        version=p.version,
        created_at=p.created_at,
    )
