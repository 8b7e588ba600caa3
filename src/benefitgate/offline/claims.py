"""What a signed snapshot says: an account's effective entitlements and limits at one
instant, exactly as `entitlementCheck` answers them then. Pure: no I/O.

A verifier answers from the claims as the check does:
- a feature (any benefit key) is allowed if it is in `entitlements`;
- `requested` more of a metric is allowed if the metric is in `limits` and its limit is
  unlimited, soft, or `used + requested <= included`.

A suspended account (past due, canceled, no subscription) holds nothing. A snapshot never
outlives what it states: it expires at its lifetime's end or, if sooner, the next instant
its entitlements could change by time alone (a grant starting or ending, the period's end,
where a scheduled change, a cancellation or a trial's end takes effect).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog
from benefitgate.entitlements.snapshots import Effective
from benefitgate.metering.consume import SUSPENDED_STATUSES
from benefitgate.usage.periods import Period

__all__ = ["ISSUER", "Metered", "metered", "snapshot_claims", "suspended"]

ISSUER = "benefitgate"


@dataclass(frozen=True, slots=True)
class Metered:
    """A limited metric whose counter the snapshot states, in its period at signing."""

    metric_key: str
    period: Period


def suspended(account: Account) -> bool:
    sub = account.subscription
    return sub is None or sub.status in SUSPENDED_STATUSES


def metered(
    account: Account, effective: Effective, catalog: Catalog, now: datetime
) -> list[Metered]:
    """The metrics with a finite limit, whose counters the claims need."""
    if suspended(account):
        return []
    return [
        Metered(key, account.period_at(catalog.metrics[key].reset, now))
        for key, limit in sorted(effective.limits.items())
        if limit.included is not None
    ]


def snapshot_claims(
    account: Account,
    effective: Effective,
    used: Mapping[str, float],
    periods: Mapping[str, Period],
    now: datetime,
    lifetime: timedelta,
) -> dict[str, Any]:
    """The claims, given the counters (`used`, by metric; absent: zero) and periods of
    the metrics `metered` named."""
    issued = int(now.timestamp())
    sub = account.subscription
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(account.id),
        "iat": issued,
        "exp": max(int(_expiry(account, effective, now, lifetime).timestamp()), issued),
        "tier": None if effective.tier is None else effective.tier.tier_key,
        "status": None if sub is None else sub.status,
        "entitlements": [],
        "limits": {},
    }
    if suspended(account):
        return claims
    claims["entitlements"] = sorted(effective.held)
    claims["limits"] = {
        key: _limit(limit.enforcement, limit.included, used.get(key, 0.0), periods.get(key))
        for key, limit in sorted(effective.limits.items())
    }
    return claims


def _limit(
    enforcement: str, included: float | None, used: float, period: Period | None
) -> dict[str, Any]:
    if included is None:
        return {"enforcement": "unlimited"}
    end = None if period is None or period.end is None else period.end.isoformat()
    return {
        "enforcement": enforcement,
        "included": included,
        "used": used,
        "remaining": max(included - used, 0.0),
        "periodEnd": end,
    }


def _expiry(account: Account, effective: Effective, now: datetime, lifetime: timedelta) -> datetime:
    ends = [now + lifetime]
    if effective.until is not None:
        ends.append(effective.until)
    sub = account.subscription
    if sub is not None:
        ends.extend(
            t
            for t in (sub.current_period_end, sub.trial_ends_at, sub.scheduled_change_at)
            if t is not None and t > now
        )
    return min(ends)
