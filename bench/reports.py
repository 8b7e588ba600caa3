"""Benchmark: the scheduler's quarterly impact reports for 10,000 accounts.

Seeds 10,000 demo accounts into a fresh database, gives every account the last closed
quarter of daily usage of two metrics (about 1.8 million usage_daily rows), then runs the
report job (`reports.service.generate_due`) once in a fresh process, as the scheduler's
leader would after the quarter closes: wall time, reports a second, and that process's
peak resident memory against a process that only loaded the catalog (the baseline). In
the same run it measures the floor: the job's reads alone, the impact summary's five SQL
statements per batch of accounts, sent straight from asyncpg with nothing assembled or
stored. Then it renders 200
stored reports as CSV and PDF, the cost a download adds. The database is dropped at the
end.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/reports.py
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from benefitgate import db
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.repository import load_catalog
from benefitgate.impact import repository as impact_rows
from benefitgate.impact.models import DayRange
from benefitgate.reports import exports, periods, service
from benefitgate.reports import repository as report_rows
from benefitgate.targets import service as targets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import prepare, server_dsn
from scratch import scratch_database

ACCOUNTS = 10_000
RENDERED = 200


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def add_quarter(dsn: str, quarter: DayRange) -> None:
    conn = await db.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.execute(
            """
            insert into usage_daily (account_id, metric_key, day, value)
            select a.id, m.key, d::date, (random() * 100)::int
            from accounts a
            cross join generate_series($1::date, $2::date, '1 day') as d
            join metrics m on m.key in ('automation_runs', 'api_calls')
            on conflict do nothing
            """,
            quarter.start,
            quarter.end,
        )
        # Every account subscribed through the quarter: each owes a report.
        first = datetime(quarter.start.year, quarter.start.month, 1, tzinfo=UTC)
        await conn.execute("update subscriptions set started_at = least(started_at, $1)", first)
        await conn.execute("analyze")
        await conn.execute("checkpoint")
        rows = await conn.fetchval("select count(*) from usage_daily")
        print(f"usage_daily holds {rows:,} rows ({time.perf_counter() - started:.0f} s to add)")
    finally:
        await conn.close()


async def run_job(dsn: str, now: datetime, months: int) -> tuple[int, float, float]:
    """The job (`months` 0: only the catalog loaded); what it made, its time, peak MiB."""
    pool = await db.create_pool(dsn, min_size=2, max_size=4)
    try:

        async def catalog() -> Catalog:
            async with pool.acquire() as conn:
                return await load_catalog(conn)

        await catalog()
        started = time.perf_counter()
        made = await service.generate_due(pool, catalog, months, 1, now)
        return made, time.perf_counter() - started, peak_mib()
    finally:
        await pool.close()


def in_child(dsn: str, now: datetime, months: int) -> tuple[int, float, float]:
    return asyncio.run(run_job(dsn, now, months))


def measured(dsn: str, now: datetime, months: int) -> tuple[int, float, float]:
    """Run in a fresh process, so its peak memory is the job's alone."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        return child.submit(in_child, dsn, now, months).result()


async def drop(server: str, name: str) -> None:
    admin = await db.connect(server)
    try:
        await admin.execute(f'drop database "{name}" with (force)')
    finally:
        await admin.close()


async def floor_run(dsn: str, quarter: DayRange) -> float:
    """The job's reads alone: the summaries' five statements per batch of accounts."""
    conn = await db.connect(dsn)
    try:
        ids = [r["id"] for r in await conn.fetch("select account_id as id from subscriptions")]
        started = time.perf_counter()
        for n in range(0, len(ids), service.BATCH):
            batch = sorted(ids[n : n + service.BATCH])
            await impact_rows.months_many(conn, batch, quarter)
            await impact_rows.counters_many(conn, batch, quarter)
            await targets.actuals_between_many(conn, batch, quarter.start, quarter.end)
            await impact_rows.achievements_many(conn, batch, quarter)
            await impact_rows.grants_many(conn, batch, quarter)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def render(dsn: str) -> tuple[float, float, int]:
    conn = await db.connect(dsn)
    try:
        ids = [r["id"] for r in await conn.fetch("select id from accounts limit $1", RENDERED)]
        reports = [(await report_rows.reports_of(conn, a, 1))[0] for a in ids]
    finally:
        await conn.close()
    started = time.perf_counter()
    for r in reports:
        exports.csv_of(r.document)
    csv_seconds = time.perf_counter() - started
    started = time.perf_counter()
    size = sum(len(exports.pdf_of(r.document, r.created_at)) for r in reports)
    return csv_seconds, time.perf_counter() - started, size // len(reports)


def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded)
    dsn, _, _ = asyncio.run(prepare(server, name, accounts=ACCOUNTS))
    now = datetime.now(UTC)
    (quarter,) = periods.closed(now, 3, 1)
    asyncio.run(add_quarter(dsn, quarter))
    _, _, baseline = measured(dsn, now, 0)
    made, seconds, peak = measured(dsn, now, 3)
    floor = asyncio.run(floor_run(dsn, quarter))
    csv_seconds, pdf_seconds, pdf_bytes = asyncio.run(render(dsn))
    print(f"\nquarterly impact reports, {quarter.start} to {quarter.end}: {made:,} made")
    print(f"  job:    {seconds:6.1f} s  ({made / seconds:,.0f} reports/s, "
          f"{seconds / made * 1000:.2f} ms each)")  # fmt: skip
    print(f"  floor:  {floor:6.1f} s  (the summaries' reads alone, a batch at a time)")
    print(f"  peak memory of the job's process: {peak:.0f} MiB (baseline {baseline:.0f} MiB)")
    print(f"  exports of {RENDERED} reports: CSV {csv_seconds / RENDERED * 1000:.2f} ms each, "
          f"PDF {pdf_seconds / RENDERED * 1000:.2f} ms each ({pdf_bytes:,} bytes)")  # fmt: skip
    asyncio.run(drop(server, name))


if __name__ == "__main__":
    main()
