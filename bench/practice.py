"""Benchmark: account health, renewal risk and peer benchmarks over the demo's accounts.

Seeds `BENCH_ACCOUNTS` demo accounts (10,000 by default) into a fresh database
(`bg_bench_practice_*`, left for inspection) and times, straight through the services on
one connection (no HTTP, no GraphQL), `ROUNDS` times each:

- the health of a page of 50 accounts (seven statements);
- `accountsAtRisk` for 30 and 90 days (every account renewing in the window scored);
- the peer benchmarks of a page of 50 accounts (one statement ranking their tiers).

The floor, in the same run: one `select 1` round trip, and reading the page's accounts.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/practice.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from benefitgate import db
from benefitgate.accounts import service as accounts
from benefitgate.benchmarks import service as benchmarks
from benefitgate.catalog.repository import load_catalog
from benefitgate.health import service as health

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import ACCOUNTS, prepare, server_dsn

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


async def main() -> None:
    server, embedded = server_dsn()
    try:
        dsn, _, ids = await prepare(server, f"bg_bench_practice_{uuid.uuid4().hex[:8]}", ACCOUNTS)
        conn = await db.connect(dsn)
        try:
            await conn.execute("analyze")
            catalog = await load_catalog(conn)
            now = datetime.now(UTC)
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
            print(
                f"{ACCOUNTS} accounts; renewing within 30 days: {renewing[30]}, 90: {renewing[90]}"
            )
            await timed("floor: select 1", lambda: conn.fetchval("select 1"))
            await timed(
                f"floor: read {PAGE} accounts", lambda: accounts.accounts_by_ids(conn, page)
            )
            await timed(
                f"health of {PAGE} accounts",
                lambda: health.health_by_account(conn, found, catalog, now),
            )
            for days in (30, 90):
                await timed(
                    f"accountsAtRisk({days} days), first 20",
                    lambda d=days: health.at_risk(conn, d, None, catalog, now, None, 20),
                )
            await timed(
                f"benchmarks of {PAGE} accounts",
                lambda: benchmarks.benchmarks_by_account(conn, page, catalog, now),
            )
        finally:
            await conn.close()
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
