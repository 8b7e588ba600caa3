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
from benefitgate.metering.repository import CounterKey, CounterValue, Crossing
from benefitgate.metering.rules import THRESHOLDS
from benefitgate.usage import evidence
from benefitgate.usage.periods import Period
from benefitgate.usage.trend import CUMULATIVE, reaches_limit

__all__ = ["THRESHOLDS", "crossed", "current_periods", "record_crossings"]

EVENT_TYPE = "usage.threshold_crossed"


def crossed(value: float, limit: EffectiveLimit | None) -> list[int]:
    """The thresholds (in percent) that `value` has reached against a finite limit."""
    if limit is None or limit.included is None or limit.included <= 0:
        return []
    return [t for t in THRESHOLDS if value >= limit.included * t / 100]


def current_periods(
    accounts: Sequence[Account],
    limits: Mapping[UUID, Mapping[str, EffectiveLimit]],
    catalog: Catalog,
    now: datetime,
) -> dict[tuple[UUID, str], Period]:
    """The current period of each account's cumulative metrics with a finite limit: those
    whose run rate can overrun it. Computed before a write, so that the write's counters'
    row locks are not held while it is (a period each: 3 % of a busy service's samples)."""
    found = {}
    for account in accounts:
        for key, limit in limits.get(account.id, {}).items():
            metric = catalog.metrics.get(key)
            if limit.included is None or metric is None or metric.aggregation not in CUMULATIVE:
                continue
            found[account.id, key] = account.period_at(metric.reset, now)
    return found


async def record_crossings(
    conn: asyncpg.Connection,
    periods: Mapping[tuple[UUID, str], Period],
    counters: Sequence[CounterValue],
    now: datetime,
    limits: Mapping[UUID, Mapping[str, EffectiveLimit]],
    added: Mapping[CounterKey, float] | None = None,
    crossings: Sequence[Crossing] | None = None,
) -> None:
    """Mark newly crossed thresholds of updated counters, against their accounts' `limits`,
    and enqueue an event for each. The primary key of usage_thresholds makes each crossing
    happen once, whatever races. `crossings`: the new crossings, when the write of the
    counters recorded them already (`repository.record_events` does). `periods`: the
    counters' accounts' `current_periods`.

    `added` is what the write added to each cumulative counter, when known: an account is
    then marked as evidence only by the write that turned its run rate into an overrun
    (its counter's earlier value did not project past the limit), not by every later one."""
    if crossings is None:
        candidates = [
            (account_id, metric, start, threshold)
            for account_id, metric, start, value in counters
            for threshold in crossed(value, limits.get(account_id, {}).get(metric))
        ]
        crossings = await repository.mark_thresholds(conn, candidates, now) if candidates else []
    await _report(conn, crossings, counters, limits)
    # A crossing is evidence through its event; a projected overrun has none.
    overrunning = _overrunning(periods, counters, limits, now, added or {})
    await evidence.mark(conn, list(overrunning), now)


def _overrunning(
    periods: Mapping[tuple[UUID, str], Period],
    counters: Sequence[CounterValue],
    limits: Mapping[UUID, Mapping[str, EffectiveLimit]],
    now: datetime,
    added: Mapping[CounterKey, float],
) -> set[UUID]:
    """Accounts whose run rate reaches a limit before the current period ends, and did not
    before `added`."""
    found = set()
    for account_id, key, start, value in counters:
        period = periods.get((account_id, key))  # None: no finite limit, or not cumulative
        if period is None or period.start != start:
            continue  # or backdated usage: the current period's run rate is another counter
        included = limits[account_id][key].included
        assert included is not None  # periods are those of finite limits
        if not reaches_limit(value, included, period, now):
            continue
        before = value - added.get((account_id, key, start), value)
        if not reaches_limit(before, included, period, now):
            found.add(account_id)
    return found


async def _report(
    conn: asyncpg.Connection,
    crossings: Sequence[Crossing],
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
