"""Benchmark: the impact summary of one account over a year of daily counters.

Seeds 10,000 demo accounts into a fresh database, then gives every account a year of daily
`automation_runs` rows and 200 sampled accounts a year of every metric (over 3.6 million
usage_daily rows in all), with achievements and an outcome target. Starts `benefitgate
serve` and asks `impactSummary` for the sampled accounts over the last 365 days, one
request at a time, printing p50 and p99. In the same run it measures the floor: the
summary's five SQL statements alone, sent straight from asyncpg.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/impact.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from benefitgate import db
from benefitgate.impact import repository
from benefitgate.impact.models import DayRange
from benefitgate.targets import service as targets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import prepare, serve_benefitgate, server_dsn, suggestions_computed, wait_until_up
from scratch import scratch_database

PORT = 8768
SAMPLED = 200
ROUNDS = 5  # requests per sampled account
QUERY = """query Impact($id: ID!, $from: Date!, $to: Date!) {
  impactSummary(accountId: $id, from: $from, to: $to) { __typename ... on ImpactSummary {
    from to
    metrics { metric { key } value limit peakPercent trendPercent months { month total }
              periods { periodStart value percent } }
    milestones { milestoneKey occurrence achievedAt reward { key } }
    benefitsUsed { grant { benefit { key } source } used }
    outcomes { outcome { key } delivered target targetActual percent met value { amountCents } }
    valueDelivered { amountCents currency }
    newBenefits { key } newTierVersions { key version }
  } } }"""


async def add_year(dsn: str, ids: list[str]) -> list[str]:
    """A year of daily rows: one metric for everyone, every metric for the sample."""
    conn = await db.connect(dsn)
    try:
        started = time.perf_counter()
        today = datetime.now(UTC).date()
        await conn.execute(
            """
            insert into usage_daily (account_id, metric_key, day, value)
            select a.id, m.key, d::date, (random() * 100)::int
            from accounts a
            cross join generate_series($1::date - 364, $1::date, '1 day') as d
            join metrics m on m.key = 'automation_runs'
                 or (a.id = any($2::uuid[]) and m.key <> 'automation_runs')
            on conflict do nothing
            """,
            today,
            ids[:SAMPLED],
        )
        await conn.execute(
            """
            insert into outcome_targets
            select a, 'admin_hours_saved', 500, $1::date - 180, $1::date + 90, '', 'bench', now()
            from unnest($2::uuid[]) a on conflict do nothing
            """,
            today,
            ids[:SAMPLED],
        )
        await conn.execute("analyze usage_daily")
        # Write the load out now: a checkpoint flushing it mid-run shows up as latency.
        await conn.execute("checkpoint")
        rows = await conn.fetchval("select count(*) from usage_daily")
        print(f"usage_daily holds {rows:,} rows ({time.perf_counter() - started:.0f} s to add)")
    finally:
        await conn.close()
    return ids[:SAMPLED]


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[98]


async def service_run(key: str, sample: list[str], days: DayRange) -> list[float]:
    latencies = []
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", headers=headers) as http:
        for account in sample * ROUNDS:
            variables = {"id": account, "from": days.start.isoformat(), "to": days.end.isoformat()}
            started = time.perf_counter()
            response = await http.post("/graphql", json={"query": QUERY, "variables": variables})
            latencies.append((time.perf_counter() - started) * 1000)
            body = response.json()
            assert body["data"]["impactSummary"]["__typename"] == "ImpactSummary", body
    return latencies


async def floor_run(dsn: str, sample: list[str], days: DayRange) -> list[float]:
    conn = await db.connect(dsn)
    latencies = []
    try:
        for account in sample * ROUNDS:
            account_id = uuid.UUID(account)
            started = time.perf_counter()
            await repository.months(conn, account_id, days)
            await repository.counters(conn, account_id, days)
            await targets.actuals_between(conn, account_id, days.start, days.end)
            await repository.achievements(conn, account_id, days)
            await repository.grants(conn, account_id, days)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    return latencies


def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded)
    dsn, key, ids = asyncio.run(prepare(server, name))
    sample = asyncio.run(add_year(dsn, ids))
    today = date.today()
    days = DayRange(today - timedelta(days=364), today)
    service = serve_benefitgate(dsn, PORT, Path(tempfile.mkdtemp()))
    try:
        wait_until_up(PORT)
        asyncio.run(suggestions_computed(dsn))
        asyncio.run(service_run(key, sample[:20], days))  # warm-up: caches, connections
        served = asyncio.run(service_run(key, sample, days))
    finally:
        service.terminate()
        service.wait()
    floor = asyncio.run(floor_run(dsn, sample, days))
    print(f"\nimpact summary over 365 days, {len(served)} requests over {len(sample)} accounts")
    for label, figures in (("service", served), ("floor", floor)):
        p50, p99 = percentiles(figures)
        print(f"  {label + ':':9} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(figures):6.2f} ms")
    print("  target: p99 < 20 ms")


if __name__ == "__main__":
    main()
