"""GraphQL types of partners."""

from __future__ import annotations

from datetime import datetime

import strawberry

__all__ = ["PartnerCreated", "PartnerLinkChanged"]


@strawberry.type
class PartnerCreated:
    id: strawberry.ID
    name: str
    created_at: datetime
    replayed: bool


@strawberry.type(description="Whether the partner manages the account now.")
class PartnerLinkChanged:
    partner_id: strawberry.ID
    account_id: strawberry.ID
    linked: bool
    changed: bool = strawberry.field(description="False when it was so already.")
    replayed: bool
