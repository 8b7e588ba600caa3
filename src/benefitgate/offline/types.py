"""The GraphQL of signed entitlement snapshots."""

from __future__ import annotations

from datetime import datetime

import strawberry

__all__ = ["EntitlementSnapshot"]


@strawberry.type(
    description="The account's effective entitlements and limits, signed (EdDSA, Ed25519) "
    "for checks made offline or at the edge; verify with the keys at /.well-known/jwks.json."
)
class EntitlementSnapshot:
    token: str = strawberry.field(
        description="A compact JWS. Claims: iss, sub (the account id), iat, exp, tier, "
        "status, entitlements (benefit keys the account may use), limits (per metric: "
        "enforcement, and when limited included, used, remaining, periodEnd)."
    )
    key_id: str = strawberry.field(description="The signing key's id: `kid` in the header.")
    issued_at: datetime
    expires_at: datetime
