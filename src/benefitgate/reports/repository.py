"""Every SQL statement of impact reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from benefitgate.impact.models import DayRange
from benefitgate.reports.models import Report

__all__ = ["cadences", "due_accounts", "insert_many", "reports_of", "schedule_of", "set_schedule"]


def _instants(period: DayRange) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time(), UTC)
    return start, datetime.combine(period.end + timedelta(days=1), time(), UTC)


async def due_accounts(
    conn: asyncpg.Connection, period: DayRange, months: int, default: int, limit: int
) -> list[UUID]:
    """Up to `limit` accounts owed a report of `period` and without one: those reported
    every `months` months (their own schedule, or `default` without one) whose
    subscription started before the period ended and had not ended before it began."""
    start, end = _instants(period)
    rows = await conn.fetch(
        """
        select s.account_id from subscriptions s
        left join impact_report_schedules c on c.account_id = s.account_id
        where coalesce(c.months, $6) = $7
          and s.started_at < $4
          and (s.status <> 'canceled' or s.current_period_end > $3)
          and not exists (
            select 1 from impact_reports r
            where r.account_id = s.account_id and r.period_start = $1 and r.period_end = $2)
        order by s.account_id
        limit $5
        """,
        period.start,
        period.end,
        start,
        end,
        limit,
        default,
        months,
    )
    return [r["account_id"] for r in rows]


async def cadences(conn: asyncpg.Connection) -> set[int]:
    """The periods, in months, that accounts' own schedules set."""
    rows = await conn.fetch("select distinct months from impact_report_schedules")
    return {r["months"] for r in rows}


async def schedule_of(conn: asyncpg.Connection, account_id: UUID) -> int | None:
    """The account's own period, after waiting for any other change of it to end (a row
    lock cannot queue behind a row not written yet: an advisory lock on the account can)."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended($1::uuid::text, 26))", account_id
    )
    months: int | None = await conn.fetchval(
        "select months from impact_report_schedules where account_id = $1", account_id
    )
    return months


async def set_schedule(conn: asyncpg.Connection, account_id: UUID, months: int | None) -> None:
    """The account's own period, or none (None) to follow the service's."""
    if months is None:
        await conn.execute("delete from impact_report_schedules where account_id = $1", account_id)
        return
    await conn.execute(
        """
        insert into impact_report_schedules (account_id, months) values ($1, $2)
        on conflict (account_id) do update set months = excluded.months
        """,
        account_id,
        months,
    )


async def insert_many(
    conn: asyncpg.Connection,
    period: DayRange,
    created_at: datetime,
    documents: Sequence[tuple[UUID, dict[str, Any]]],
) -> list[UUID]:
    """Store the reports not stored yet (a concurrent run's stay as they are); returns the
    accounts whose report this call stored."""
    if not documents:
        return []
    rows = await conn.fetch(
        """
        insert into impact_reports (account_id, period_start, period_end, created_at, document)
        select d.account_id, $1, $2, $3, d.document::jsonb
        from unnest($4::uuid[], $5::text[]) as d(account_id, document)
        order by d.account_id
        on conflict do nothing
        returning account_id
        """,
        period.start,
        period.end,
        created_at,
        [a for a, _ in documents],
        [orjson.dumps(doc).decode() for _, doc in documents],
    )
    return [r["account_id"] for r in rows]


async def reports_of(conn: asyncpg.Connection, account_id: UUID, limit: int) -> list[Report]:
    """The account's reports, newest period first."""
    rows = await conn.fetch(
        """
        select account_id, period_start, period_end, created_at, document from impact_reports
        where account_id = $1 order by period_start desc, period_end desc limit $2
        """,
        account_id,
        limit,
    )
    return [
        Report(
            r["account_id"],
            DayRange(r["period_start"], r["period_end"]),
            r["created_at"],
            r["document"],
        )
        for r in rows
    ]
