"""Benchmark: account health, renewal risk and peer benchmarks over the demo's accounts.

Seeds `BENCH_ACCOUNTS` demo accounts (10,000 by default) into a fresh database
(`bg_bench_practice_*`, dropped at exit) and times, straight through the services on
one connection (no HTTP, no GraphQL), `ROUNDS` times each:

- the health job's first run, scoring every account into the stored scores (once);
- the health of a page of 50 accounts: stored (one statement), and scored afresh (seven
  statements, what the job does per batch and the view does for an unscored account);
- `accountsAtRisk` for 30 and 90 days: the first page of 20, and a page of 20 after
  2,000 accounts (a keyset read of the rank index as the last round left it);
- the peer benchmarks of a page of 50 accounts (one statement ranking their tiers).

The floor, in the same run: one `select 1` round trip, and reading the page's accounts.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/practice.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from benefitgate import db
from benefitgate.accounts import service as accounts
from benefitgate.benchmarks import service as benchmarks
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.repository import load_catalog
from benefitgate.health import refresh
from benefitgate.health import service as health
from benefitgate.health.ranking import Position, position

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import ACCOUNTS, prepare, server_dsn
from scratch import scratch_database

ROUNDS = 20
PAGE = 50


async def timed(label: str, run: Callable[[], Awaitable[object]]) -> float:
    await run()  # warm: plans and caches
    took = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await run()
        took.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(took)
    print(f"{label:<44} p50 {p50:8.1f} ms   max {max(took):8.1f} ms")
    return p50


def _loaded(catalog: Catalog) -> Callable[[], Awaitable[Catalog]]:
    async def load() -> Catalog:
        return catalog

    return load


async def _after(conn: asyncpg.Connection, days: int, now: datetime, skip: int) -> Position:
    """The position after the first `skip` accounts at risk."""
    page, _, walk = await health.at_risk(conn, days, None, now, None, skip)
    assert walk is not None and len(page) == skip
    return position(walk, page[-1][1])


async def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded, "bg_bench_practice")
    dsn, _, ids = await prepare(server, name, ACCOUNTS)
    conn = await db.connect(dsn)
    try:
        catalog = await load_catalog(conn)
        now = datetime.now(UTC)
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        try:
            started = time.perf_counter()
            scored = await refresh.refresh_due(pool, _loaded(catalog), now)
            took = time.perf_counter() - started
        finally:
            await pool.close()
        print(f"health job, first run: {scored} accounts scored in {took:.1f} s")
        await conn.execute("analyze")
        page = [UUID(i) for i in ids[:PAGE]]
        found = list((await accounts.accounts_by_ids(conn, page)).values())
        renewing = {
            days: await conn.fetchval(
                "select count(*) from subscriptions where status <> 'canceled' "
                "and renewal_date between current_date and current_date + $1::int",
                days,
            )
            for days in (30, 90)
        }
        print(f"{ACCOUNTS} accounts; renewing within 30 days: {renewing[30]}, 90: {renewing[90]}")
        await timed("floor: select 1", lambda: conn.fetchval("select 1"))
        await timed(f"floor: read {PAGE} accounts", lambda: accounts.accounts_by_ids(conn, page))
        await timed(
            f"health of {PAGE} accounts, stored",
            lambda: health.stored_health(conn, found, catalog, now),
        )
        await timed(
            f"health of {PAGE} accounts, scored afresh",
            lambda: health.health_by_account(conn, found, catalog, now),
        )
        for days in (30, 90):
            await timed(
                f"accountsAtRisk({days} days), first 20",
                lambda d=days: health.at_risk(conn, d, None, now, None, 20),
            )
            deep = await _after(conn, days, now, 2_000)
            await timed(
                f"accountsAtRisk({days} days), 20 after 2,000",
                lambda d=days, a=deep: health.at_risk(conn, d, None, now, a, 20),
            )
        await timed(
            f"benchmarks of {PAGE} accounts",
            lambda: benchmarks.benchmarks_by_account(conn, page, catalog, now),
        )
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
