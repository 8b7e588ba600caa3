"""Peer benchmarks of accounts: per metric and per outcome its metric measures, the
account's percentile among the accounts on its tier, over the last complete calendar month
(UTC). A closed month keeps the answer still while the account's own usage moves, so an
account cannot find a peer's value by changing its own and asking again; only usage
backfilled into that month (within ingest's accepted window) moves it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg

from benefitgate.benchmarks import repository
from benefitgate.benchmarks.models import Benchmark, Benchmarks
from benefitgate.benchmarks.percentile import percentile
from benefitgate.catalog.models import Catalog

__all__ = ["benchmarks_by_account", "last_month"]


def last_month(now: datetime) -> tuple[date, date]:
    """The first and last day of the last complete calendar month (UTC) before `now`."""
    this_month = now.astimezone(UTC).date().replace(day=1)
    last_day = this_month - timedelta(days=1)
    return last_day.replace(day=1), last_day


async def benchmarks_by_account(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], catalog: Catalog, now: datetime
) -> dict[UUID, Benchmarks]:
    first, last = last_month(now)
    found = await repository.standings(conn, account_ids, first, last)
    result = {}
    for account_id in account_ids:
        by_metric = {s.metric_key: s for s in found.get(account_id, [])}
        metrics = [Benchmark(k, percentile(s)) for k, s in sorted(by_metric.items())]
        outcomes = [
            Benchmark(o.key, percentile(by_metric[o.metric_key], o.direction))
            for o in sorted(catalog.outcomes.values(), key=lambda o: o.key)
            if o.metric_key is not None and o.metric_key in by_metric
        ]
        result[account_id] = Benchmarks(first, metrics, outcomes)
    return result
