"""GraphQL types of grants and grant changes."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from benefitgate.catalog.types import Benefit, CatalogTypes
from benefitgate.entitlements.models import Grant as GrantModel

__all__ = ["Grant", "GrantChanged", "GrantMode", "GrantSource", "grant_type"]


@strawberry.enum(description="Where a grant comes from; it decides precedence.")
class GrantSource(enum.Enum):
    TIER = "tier"
    ADDON = "addon"
    MILESTONE = "milestone"
    ANNIVERSARY = "anniversary"
    MANUAL = "manual"
    TRIAL = "trial"
    PROMOTIONAL = "promotional"


@strawberry.enum(description="How a limit grant acts on the tier's limit.")
class GrantMode(enum.Enum):
    ADD = "add"
    OVERRIDE = "override"


@strawberry.type(description="A time-bounded entitlement to a benefit, beyond the tier.")
class Grant:
    id: strawberry.ID
    benefit: Benefit
    source: GrantSource
    amount: float | None
    mode: GrantMode
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    version: int = strawberry.field(description="Pass as `expectedVersion` to change it.")


@strawberry.type
class GrantChanged:
    grant: Grant = strawberry.field(description="The grant as this change left it.")
    audit_entry_id: strawberry.ID
    replayed: bool = strawberry.field(
        description="True when this is the stored result of an earlier request with the "
        "same idempotency key."
    )


def grant_type(g: GrantModel, types: CatalogTypes) -> Grant:
    return Grant(
        id=strawberry.ID(str(g.id)),
        benefit=types.benefits[g.benefit_key],
        source=GrantSource(g.source),
        amount=g.amount,
        mode=GrantMode(g.mode),
        valid_from=g.valid_from,
        valid_until=g.valid_until,
        revoked_at=g.revoked_at,
        version=g.version,
    )
