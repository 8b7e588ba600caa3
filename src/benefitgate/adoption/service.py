"""Benefit adoption: which benefits an account may use now and when it last used each,
read for many accounts in three statements.

A benefit is held through the account's tier (since the subscription started, or since
the benefit was introduced if later) or an active grant (since the grant's start). Its use
is measured by allowed entitlement checks when it is a feature, and by usage of the
metric it names when it names one; other benefits are held but not measured, so never
called unused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.adoption import repository
from benefitgate.adoption.models import BenefitAdoption
from benefitgate.adoption.repository import UseRow
from benefitgate.catalog.models import Benefit, Catalog
from benefitgate.entitlements import service as entitlements
from benefitgate.entitlements.models import Grant

__all__ = ["adoption_of", "measure_of", "record_uses"]


async def record_uses(conn: asyncpg.Connection, uses: Sequence[UseRow]) -> None:
    await repository.record_uses(conn, uses)


def measure_of(benefit: Benefit) -> str | None:
    if benefit.metric_key is not None:
        return "metric"
    return "check" if benefit.kind == "feature" else None


async def adoption_of(
    conn: asyncpg.Connection,
    accounts: Sequence[Account],
    catalog: Catalog,
    now: datetime,
    since: datetime,
) -> dict[UUID, tuple[BenefitAdoption, ...]]:
    """Each account's benefits held now, with their last use: by check ever, by metric
    from `since` on (older metric usage reads as unused)."""
    ids = [a.id for a in accounts]
    grants = await entitlements.active_grants(conn, ids, now)
    checks = await repository.last_checks(conn, ids)
    metric_keys = sorted({b.metric_key for b in catalog.benefits.values() if b.metric_key})
    metered = await repository.last_metric_days(conn, ids, metric_keys, since.date())
    return {
        a.id: _held(
            a, grants.get(a.id, []), catalog, now, checks.get(a.id, {}), metered.get(a.id, {})
        )
        for a in accounts
    }


def _held(
    account: Account,
    grants: Sequence[Grant],
    catalog: Catalog,
    now: datetime,
    checks: dict[str, datetime],
    metered: dict[str, datetime],
) -> tuple[BenefitAdoption, ...]:
    since: dict[str, datetime] = {}
    sub = account.subscription
    tier = None if sub is None else catalog.versions.get(sub.tier_version_id)
    if sub is not None and tier is not None:
        for key in tier.benefit_keys:
            since[key] = sub.started_at
    for grant in grants:
        if grant.active_at(now):
            since[grant.benefit_key] = min(grant.valid_from, since.get(grant.benefit_key, now))
    found = []
    for key in sorted(since):
        benefit = catalog.benefits.get(key)
        if benefit is None or not benefit.active_on(now.date()):
            continue
        introduced = datetime.combine(benefit.introduced_on, time(), UTC)
        measure = measure_of(benefit)
        last = metered.get(benefit.metric_key or "") if measure == "metric" else checks.get(key)
        found.append(BenefitAdoption(benefit, measure, max(since[key], introduced), last))
    return tuple(found)
