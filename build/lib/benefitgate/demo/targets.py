"""Demo outcome targets: a month of readings of the metrics that measure two demo outcomes
(`MEASURES` in the demo catalog), and a target for each, for the demo account."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg

__all__ = ["insert_demo_targets"]

_DAYS = 30
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _readings(today: date) -> list[tuple[str, date, float]]:
    """Hours saved on weekdays, and a weekly time-to-insight reading that falls from 9 days."""
    days = [today - timedelta(days=n) for n in range(_DAYS - 1, -1, -1)]
    hours = [("hours_saved", d, float(2 + d.day % 4)) for d in days if d.weekday() < 5]
    insight = [("days_to_insight", d, float(9 - n)) for n, d in enumerate(days[::7])]
    return hours + insight


async def insert_demo_targets(conn: asyncpg.Connection, account_id: UUID, now: datetime) -> int:
    """Write the demo account's readings, their counters and two targets for this quarter.
    Returns the number of usage rows written."""
    today = now.astimezone(UTC).date()
    readings = _readings(today)
    await conn.executemany(
        "insert into usage_daily (account_id, metric_key, day, value) values ($1, $2, $3, $4)",
        [(account_id, metric, day, value) for metric, day, value in readings],
    )
    hours = sum(v for m, _, v in readings if m == "hours_saved")
    latest = [v for m, _, v in readings if m == "days_to_insight"][-1]
    await conn.executemany(
        "insert into usage_counters (account_id, metric_key, period_start, value, updated_at)"
        " values ($1, $2, $3, $4, $5)",
        [(account_id, "hours_saved", _EPOCH, hours, now),
         (account_id, "days_to_insight", _EPOCH, latest, now)],
    )  # fmt: skip
    first_month = (today.month - 1) // 3 * 3 + 1
    quarter = (
        date(today.year, first_month, 1),
        date(today.year, first_month + 2, calendar.monthrange(today.year, first_month + 2)[1]),
    )
    await conn.executemany(
        """
        insert into outcome_targets
            (account_id, outcome_key, target, starts_on, ends_on, note, set_by, set_at)
        values ($1, $2, $3, $4, $5, $6, 'seed', $7)
        """,
        [(account_id, "admin_hours_saved", 120, *quarter, "Agreed at the quarterly review", now),
         (account_id, "time_to_insight", 4, *quarter, "Dashboards answer within four days", now)],
    )  # fmt: skip
    return len(readings) + 2
