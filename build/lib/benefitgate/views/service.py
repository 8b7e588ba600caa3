"""Benefit views of accounts, read in two statements around a pure assembly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog
from benefitgate.entitlements import service as entitlements
from benefitgate.entitlements.limits import limits_of
from benefitgate.usage import service as usage
from benefitgate.views.assembly import build_view, metric_periods, usage_rows
from benefitgate.views.models import AccountView

__all__ = ["views_of"]


async def views_of(
    conn: asyncpg.Connection, accounts: Sequence[Account], catalog: Catalog, now: datetime
) -> dict[UUID, AccountView]:
    """Benefit views of many accounts in two statements, whatever their sizes."""
    grants = await entitlements.active_grants(conn, [a.id for a in accounts], now)
    limits = {a.id: limits_of(a, grants.get(a.id, []), catalog, now) for a in accounts}
    periods = {a.id: metric_periods(a, limits[a.id], catalog, now) for a in accounts}
    keys = [(a.id, metric, p.start) for a in accounts for metric, p in periods[a.id].items()]
    counters = await usage.counter_values(conn, keys)
    return {
        a.id: build_view(
            a,
            catalog,
            grants.get(a.id, []),
            limits[a.id],
            usage_rows(a, limits[a.id], periods[a.id], counters, catalog, now),
            now,
        )
        for a in accounts
    }
