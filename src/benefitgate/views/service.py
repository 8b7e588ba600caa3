"""Usage rows of account views (the effective limits, then the counters in one statement),
and the account with the parts its view selects, in one statement."""

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
from benefitgate.usage.periods import EPOCH, calendar_month
from benefitgate.usage.service import CounterKey
from benefitgate.views import repository
from benefitgate.views.assembly import metric_periods, usage_rows
from benefitgate.views.models import AccountParts, MetricUsage

__all__ = ["account_parts", "usage_from", "usage_of"]


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


def usage_from(
    account: Account,
    grants: Sequence[Grant],
    counters: Mapping[CounterKey, float],
    catalog: Catalog,
    now: datetime,
) -> tuple[MetricUsage, ...]:
    """`usage_of` one account from counters already read (by `account_parts`)."""
    limits = limits_of(account, grants, catalog, now)
    periods = metric_periods(account, limits, catalog, now)
    return usage_rows(account, limits, periods, counters, catalog, now)


async def account_parts(
    conn: asyncpg.Connection, account_id: UUID, now: datetime, *, grants: bool, counters: bool
) -> AccountParts | None:
    """The account with its subscription, with `grants` or `counters` its grants in force
    or starting later, and with `counters` every counter `usage_from` may need at `now`
    (those of any period a metric can be in: the epoch, the UTC month, the billing
    period); one statement."""
    starts = (EPOCH, calendar_month(now).start) if counters else None
    return await repository.account_parts(
        conn, account_id, now, grants=grants, counter_starts=starts
    )
