"""Signing an account's entitlement snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from benefitgate.catalog.models import Catalog
from benefitgate.entitlements import snapshots
from benefitgate.entitlements.snapshots import AccountSnapshot
from benefitgate.offline.claims import metered, snapshot_claims
from benefitgate.offline.keys import KeyRing
from benefitgate.usage import service as usage

__all__ = ["Signed", "Signer", "load", "sign"]


@dataclass(frozen=True, slots=True)
class Signer:
    """The process's keys and the lifetime of what it signs (BENEFITGATE_SNAPSHOT_MINUTES)."""

    keys: KeyRing
    lifetime: timedelta


@dataclass(frozen=True, slots=True)
class Signed:
    token: str  # the compact JWS
    kid: str
    issued_at: datetime
    expires_at: datetime


async def load(conn: asyncpg.Connection, account_id: UUID) -> AccountSnapshot | None:
    """The account and its grants read afresh, never from a process's cache: a signed
    snapshot is trusted for minutes, so it must not start from a state a replica has not
    yet seen change. Two statements; None: no such account."""
    return await snapshots.load(conn, account_id)


async def sign(
    conn: asyncpg.Connection,
    snapshot: AccountSnapshot,
    catalog: Catalog,
    signer: Signer,
    now: datetime,
) -> Signed:
    """Sign the account's entitlements at `now`, reading its limited metrics' counters in
    one statement."""
    effective = snapshot.effective(catalog, now)
    account = effective.account  # its subscription as it stands at `now`
    wanted = metered(account, effective, catalog, now)
    counters = await usage.counter_values(
        conn, [(account.id, m.metric_key, m.period.start) for m in wanted]
    )
    used = {key: value for (_, key, _), value in counters.items()}
    periods = {m.metric_key: m.period for m in wanted}
    claims = snapshot_claims(account, effective, used, periods, now, signer.lifetime)
    return Signed(
        token=signer.keys.sign(claims),
        kid=signer.keys.kid,
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
