"""Crossing 80 % and 100 % of a limit: one outbox event per account, metric, period and
threshold, in the transaction of the usage that crossed it. Usage that crosses a threshold
or runs toward its limit before the period ends is also evidence for an upgrade: those
accounts are marked for their suggestions to be recomputed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog
from benefitgate.entitlements.models import EffectiveLimit
from benefitgate.events import outbox as events
from benefitgate.metering import repository
from benefitgate.metering.repository import CounterValue
from benefitgate.usage import evidence
from benefitgate.usage.trend import project

__all__ = ["THRESHOLDS", "crossed", "record_crossings"]

THRESHOLDS = (80, 100)
EVENT_TYPE = "usage.threshold_crossed"


def crossed(value: float, limit: EffectiveLimit | None) -> list[int]:
    """The thresholds (in percent) that `value` has reached against a finite limit."""
    if limit is None or limit.included is None or limit.included <= 0:
        return []
    return [t for t in THRESHOLDS if value >= limit.included * t / 100]


async def record_crossings(
    conn: asyncpg.Connection,
    accounts: Sequence[Account],
    counters: Sequence[CounterValue],
    catalog: Catalog,
    now: datetime,
    limits: Mapping[UUID, Mapping[str, EffectiveLimit]],
) -> None:
    """Mark newly crossed thresholds of updated counters, against their `accounts`' `limits`
    (`accounts` holds at least the counters' accounts), and enqueue an event for each. The
    primary key of usage_thresholds makes each crossing happen once, whatever races."""
    candidates = [
        (account_id, metric, start, threshold)
        for account_id, metric, start, value in counters
        for threshold in crossed(value, limits.get(account_id, {}).get(metric))
    ]
    crossings = await repository.mark_thresholds(conn, candidates, now) if candidates else []
    await _report(conn, crossings, counters, limits)
    # A crossing is evidence through its event; a projected overrun has none.
    await evidence.mark(conn, list(_overrunning(accounts, counters, limits, catalog, now)), now)


def _overrunning(
    accounts: Sequence[Account],
    counters: Sequence[CounterValue],
    limits: Mapping[UUID, Mapping[str, EffectiveLimit]],
    catalog: Catalog,
    now: datetime,
) -> set[UUID]:
    """Accounts whose run rate reaches a limit before the current period ends."""
    by_id = {a.id: a for a in accounts}
    found = set()
    for account_id, key, start, value in counters:
        limit = limits.get(account_id, {}).get(key)
        if limit is None:
            continue
        metric = catalog.metrics[key]  # every counter's metric was checked before its write
        period = by_id[account_id].period_at(metric.reset, now)
        if period.start != start:
            continue  # backdated usage: the current period's run rate is another counter
        projection = project(metric.aggregation, value, limit.included, period, now)
        if projection is not None and projection.limit_reached_at is not None:
            found.add(account_id)
    return found


async def _report(
    conn: asyncpg.Connection,
    crossings: Sequence[tuple[UUID, str, datetime, int]],
    counters: Sequence[CounterValue],
    limits: Mapping[UUID, Mapping[str, EffectiveLimit]],
) -> None:
    if not crossings:
        return
    values = {(a, m, s): v for a, m, s, v in counters}
    await events.enqueue_many(
        conn,
        EVENT_TYPE,
        [
            (
                account_id,
                {
                    "metric": metric,
                    "periodStart": start.isoformat(),
                    "threshold": threshold,
                    "value": values[account_id, metric, start],
                    "limit": limits[account_id][metric].included,
                    "enforcement": limits[account_id][metric].enforcement,
                },
            )
            for account_id, metric, start, threshold in crossings
        ],
    )
