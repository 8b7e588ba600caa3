"""Impact summaries: which days a summary covers, and reading it in five statements."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import InvalidChange
from benefitgate.entitlements.models import Grant
from benefitgate.impact import repository
from benefitgate.impact.models import (
    Achieved,
    CounterRow,
    DayRange,
    ImpactSummary,
    MonthRow,
    TargetRow,
)
from benefitgate.impact.summary import summarise
from benefitgate.targets import service as outcome_targets

__all__ = ["days_of", "summaries_on", "summary", "summary_on", "three_years_after"]


def _quarter(today: date) -> DayRange:
    first_month = (today.month - 1) // 3 * 3 + 1
    return DayRange(date(today.year, first_month, 1), today)


def days_of(
    period: str | None, start: date | None, end: date | None, account: Account, now: datetime
) -> DayRange:
    """The days a summary covers, up to today: the calendar quarter so far (`quarter`), the
    current term so far (`term`), or the dates given. Raises InvalidChange."""
    today = now.date()
    if (period is None) == (start is None and end is None):
        raise InvalidChange("period", "give a period, or the dates from and to, not both")
    if period == "quarter":
        return _quarter(today)
    if period == "term":
        sub = account.subscription
        if sub is None:
            raise InvalidChange("period", "the account has no subscription, so no term")
        return DayRange(sub.current_period_start.date(), today, since=sub.current_period_start)
    if start is None or end is None:
        raise InvalidChange("to" if start else "from", "give both from and to")
    if end < start:
        raise InvalidChange("to", "to is before from")
    if end >= three_years_after(start):
        raise InvalidChange(
            "to", f"at most three years: to must be before {three_years_after(start).isoformat()}"
        )
    return DayRange(start, end)


def three_years_after(day: date) -> date:
    """The same date three years on (1 March for a 29 February without one): a range of
    at most three years ends the day before it, both ends counted. Past year 9999, which
    no date reaches, the last date there is: every date the API takes comes before it."""
    if day.year + 3 > date.max.year:
        return date.max
    try:
        return day.replace(year=day.year + 3)
    except ValueError:
        return date(day.year + 3, 3, 1)


async def summary(
    pool: asyncpg.Pool, account: Account, days: DayRange, catalog: Catalog, now: datetime
) -> ImpactSummary:
    """Reads the months, the costliest statement, on a connection of its own beside the
    other four, so the summary waits for the slower of the two, not their sum."""

    async def months() -> list[MonthRow]:
        async with pool.acquire() as conn:
            return await repository.months(conn, account.id, days)

    async def the_rest() -> _Rest:
        async with pool.acquire() as conn:
            return await _the_rest(conn, account, days)

    by_month, (counters, targets, achieved, grants) = await asyncio.gather(months(), the_rest())
    return summarise(account, days, catalog, now, (by_month, counters, targets, achieved, grants))


async def summary_on(
    conn: asyncpg.Connection, account: Account, days: DayRange, catalog: Catalog, now: datetime
) -> ImpactSummary:
    """The same summary, its five statements one after another on the caller's connection
    (in its transaction): for jobs that write what they read, such as reminders."""
    by_month = await repository.months(conn, account.id, days)
    counters, targets, achieved, grants = await _the_rest(conn, account, days)
    return summarise(account, days, catalog, now, (by_month, counters, targets, achieved, grants))


async def summaries_on(
    conn: asyncpg.Connection,
    accounts: Sequence[Account],
    days: DayRange,
    catalog: Catalog,
    now: datetime,
) -> dict[UUID, ImpactSummary]:
    """The summaries of many accounts over the same days, in the same five statements as
    one account's (each over all the accounts): for the report job's batches."""
    ids = [a.id for a in accounts]
    by_month = await repository.months_many(conn, ids, days)
    counters = await repository.counters_many(conn, ids, days)
    actuals = await outcome_targets.actuals_between_many(conn, ids, days.start, days.end)
    achieved = await repository.achievements_many(conn, ids, days)
    grants = await repository.grants_many(conn, ids, days)
    found = {}
    for a in accounts:
        targets = [
            TargetRow(t.outcome_key, t.target, t.starts_on, t.ends_on, actual)
            for t, actual in actuals.get(a.id, [])
        ]
        rows = (by_month.get(a.id, []), counters.get(a.id, []), targets,
                achieved.get(a.id, []), grants.get(a.id, []))  # fmt: skip
        found[a.id] = summarise(a, days, catalog, now, rows)
    return found


_Rest = tuple[list[CounterRow], list[TargetRow], list[Achieved], list[Grant]]


async def _the_rest(conn: asyncpg.Connection, account: Account, days: DayRange) -> _Rest:
    actuals = await outcome_targets.actuals_between(conn, account.id, days.start, days.end)
    return (
        await repository.counters(conn, account.id, days),
        [TargetRow(t.outcome_key, t.target, t.starts_on, t.ends_on, a) for t, a in actuals],
        await repository.achievements(conn, account.id, days),
        await repository.grants(conn, account.id, days),
    )
