"""Usage rows of account views: the effective limits, then the counters in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog
from benefitgate.entitlements.limits import limits_of
from benefitgate.entitlements.models import Grant
from benefitgate.usage import service as usage
from benefitgate.views.assembly import metric_periods, usage_rows
from benefitgate.views.models import MetricUsage

__all__ = ["usage_of"]


async def usage_of(
    conn: asyncpg.Connection,
    accounts: Sequence[Account],
    grants: Mapping[UUID, Sequence[Grant]],
    catalog: Catalog,
    now: datetime,
) -> dict[UUID, tuple[MetricUsage, ...]]:
    """Usage of every limited metric of each account in its current period, from the
    accounts' grants (any not revoked: only those active at `now` count), in one
    statement whatever the number of accounts and metrics."""
    limits = {a.id: limits_of(a, grants.get(a.id, ()), catalog, now) for a in accounts}
    periods = {a.id: metric_periods(a, limits[a.id], catalog, now) for a in accounts}
    keys = [(a.id, metric, p.start) for a in accounts for metric, p in periods[a.id].items()]
    counters = await usage.counter_values(conn, keys)
    return {
        a.id: usage_rows(a, limits[a.id], periods[a.id], counters, catalog, now) for a in accounts
    }
