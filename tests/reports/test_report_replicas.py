"""Three `benefitgate serve` replicas on one database, their schedulers ticking on the wall
clock: the reports owed for the last closed quarter are made by whichever leads, each
account's once with one `impact.report_ready` event, and nothing more on later ticks.
Bounded: every wait has a limit, and the replicas are stopped whatever happens."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from benefitgate.reports import periods
from tests.conftest import JWT_SECRET
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess

TICK = 0.3
ACCOUNTS = 40


async def test_replicas_make_each_owed_report_once(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    cat = await factories.catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(ACCOUNTS)]
    (quarter,) = periods.closed(datetime.now(UTC), 3, 1)
    # Subscribed since before that quarter, renewing long after now: only reports are due.
    await conn.execute(
        """update subscriptions set started_at = $1, current_period_start = $1,
                  current_period_end = now() + interval '200 days'""",
        datetime(quarter.start.year, quarter.start.month, 1, tzinfo=UTC) - timedelta(days=1),
    )
    env = {"BENEFITGATE_SCHEDULER_SECONDS": str(TICK), "BENEFITGATE_REPORT_BACKFILL": "1"}
    replicas = [ServiceProcess(dsn, JWT_SECRET, tmp_path / f"r{n}", env) for n in range(3)]
    try:
        await asyncio.gather(*(r.start() for r in replicas))
        deadline = time.monotonic() + 60
        while await conn.fetchval("select count(*) from impact_reports") < ACCOUNTS:
            assert time.monotonic() < deadline, "the reports were not all made in time"
            await asyncio.sleep(0.1)
        await asyncio.sleep(5 * TICK)  # a second report or event would show by now
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))

    rows = await conn.fetch("select account_id, period_start, period_end from impact_reports")
    assert sorted((r["account_id"], r["period_start"], r["period_end"]) for r in rows) == sorted(
        (a, quarter.start, quarter.end) for a in accounts
    )
    ready = await conn.fetch(
        "select account_id, count(*) as n from events where type = 'impact.report_ready' group by 1"
    )
    assert {r["account_id"]: r["n"] for r in ready} == dict.fromkeys(accounts, 1)
