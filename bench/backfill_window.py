"""Benchmark: what a longer backfill window costs ingest.

An event id is deduplicated for as long as an event can be backdated (the window plus a
day), so the table of ids, `usage_event_ids`, holds the window's days of ids: a longer
window is a larger table and unique index that every batch inserts into, and a larger
hourly prune. For each window (`BENCH_WINDOWS` days, 35 first: the floor), on one fresh
database, it fills the table with `BENCH_IDS_PER_DAY` ids a day over the window, then
measures the service's write statement (`metering.repository.record_events`, batches of
1,000 fresh events over 1,000 accounts, one connection: the ceiling `bench/ingest.py`
measures) in `BENCH_ROUNDS` rounds, and one hourly prune (an hour's ids past the
horizon). Events/s is the best round's (the one the machine's other load disturbed
least); the index blocks each 1,000 events touched, from Postgres's own counters, do not
depend on that load. It ends with the first window again, refilled, to show how far the
other load moved the figures.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/backfill_window.py
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from benefitgate import db, migrate
from benefitgate.metering import repository
from benefitgate.metering.rules import Window
from benefitgate.usage.periods import Period

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import server_dsn
from scratch import scratch_database

WINDOWS = [int(d) for d in os.environ.get("BENCH_WINDOWS", "35,90,180,365").split(",")]
IDS_PER_DAY = int(os.environ.get("BENCH_IDS_PER_DAY", "10000"))
BATCHES = int(os.environ.get("BENCH_BATCHES", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BATCH_SIZE = 1000
ACCOUNTS = 1000
NOW = datetime.now(UTC).replace(microsecond=0)


async def prepare(server: str, name: str) -> tuple[str, list[uuid.UUID]]:
    admin = await db.connect(server)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    dsn = db.with_database(server, name)
    conn = await db.connect(dsn)
    try:
        await migrate.apply_migrations(conn)
        await conn.execute(
            "insert into metrics values ('calls', 'Calls', 'calls', 'sum', 'calendar_month')"
        )
        accounts = [uuid.uuid4() for _ in range(ACCOUNTS)]
        await conn.copy_records_to_table(
            "accounts", records=[(a, f"a{i}") for i, a in enumerate(accounts)],
            columns=["id", "name"],
        )  # fmt: skip
        await repository.ensure_partitions(conn, [NOW.date().replace(day=1)])
    finally:
        await conn.close()
    return dsn, accounts


async def fill(conn: asyncpg.Connection, accounts: list[uuid.UUID], days: int) -> float:
    """Replace the ids with `days` days of them, received evenly up to NOW; returns the
    seconds the fill took (COPY into the indexed table)."""
    await conn.execute("truncate usage_event_ids")
    rng = random.Random(days)
    started = time.perf_counter()
    step = timedelta(days=1) / IDS_PER_DAY
    for day in range(days):
        first = NOW - timedelta(days=days - day)
        rows = [
            (rng.choice(accounts), _random_id(rng), first + step * i, "bench")
            for i in range(IDS_PER_DAY)
        ]
        await conn.copy_records_to_table(
            "usage_event_ids", records=rows,
            columns=["account_id", "event_id", "received_at", "source"],
        )  # fmt: skip
    await conn.execute("vacuum analyze usage_event_ids")
    return time.perf_counter() - started


def _random_id(rng: random.Random) -> str:
    """A client's event id as clients often make them, a random UUID: each lands on a
    random leaf of the index, as a window's worth of them do."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def batches(accounts: list[uuid.UUID], run: str) -> list[repository.EventRows]:
    rng = random.Random(run)
    start = datetime(NOW.year, NOW.month, 1, tzinfo=UTC)
    period = Period(start, None)
    made = []
    for _ in range(BATCHES):
        rows = repository.EventRows()
        for _ in range(BATCH_SIZE):
            at = NOW - timedelta(seconds=rng.randrange(3600))
            account = rng.choice(accounts)
            rows.add(account, "calls", "bench", _random_id(rng), 1.0, at, period, "sum")
        made.append(rows)
    return made


async def write(conn: asyncpg.Connection, made: list[repository.EventRows]) -> list[float]:
    """Each batch's seconds, in its own transaction as the service writes it."""
    took = []
    for rows in made:
        started = time.perf_counter()
        async with conn.transaction():
            await repository.record_events(conn, rows, NOW)
        took.append(time.perf_counter() - started)
    return took


async def prune_an_hour(conn: asyncpg.Connection, days: int) -> tuple[int, float]:
    """The hourly prune when an hour of ids has passed the horizon."""
    started = time.perf_counter()
    async with conn.transaction():
        pruned = await repository.prune_event_ids(conn, NOW - timedelta(days=days, hours=-1))
    return pruned, time.perf_counter() - started


async def index_blocks(conn: asyncpg.Connection) -> tuple[int, int]:
    """Blocks of usage_event_ids's indexes found in shared buffers, and read from outside."""
    await conn.execute("select pg_stat_force_next_flush()")
    row = await conn.fetchrow(
        """select sum(idx_blks_hit)::bigint, sum(idx_blks_read)::bigint
           from pg_statio_user_indexes where relname = 'usage_event_ids'"""
    )
    assert row is not None
    return row[0], row[1]


async def measure(
    conn: asyncpg.Connection, accounts: list[uuid.UUID], days: int, run: str
) -> dict[str, float]:
    filled = await fill(conn, accounts, days)
    size = await conn.fetchval("select pg_total_relation_size('usage_event_ids')")
    await write(conn, batches(accounts, f"warm-{run}")[:5])  # caches, plans
    rates, took = [], []
    hit, read = await index_blocks(conn)
    for r in range(ROUNDS):
        round_took = await write(conn, batches(accounts, f"{run}-{r}"))
        rates.append(BATCH_SIZE * len(round_took) / sum(round_took))
        took.extend(round_took)
    hit_after, read_after = await index_blocks(conn)
    thousands = len(took) * BATCH_SIZE / 1000
    pruned, prune_seconds = await prune_an_hour(conn, days)
    return {
        "ids": days * IDS_PER_DAY,
        "mib": size / 2**20,
        "fill_s": filled,
        "events_s": max(rates),
        "p50_ms": statistics.median(took) * 1000,
        "hit": (hit_after - hit) / thousands,
        "read": (read_after - read) / thousands,
        "pruned": pruned,
        "prune_ms": prune_seconds * 1000,
    }


async def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded, "bg_bench_window")
    dsn, accounts = await prepare(server, name)
    conn = await db.connect(dsn)
    try:
        buffers = await conn.fetchval("show shared_buffers")
        print(
            f"{IDS_PER_DAY:,} ids a day; {ROUNDS} rounds of {BATCHES} batches of {BATCH_SIZE:,} "
            f"fresh events on one connection; shared_buffers {buffers}; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        header = (
            f"{'window':>10} {'horizon':>8} {'ids kept':>10} {'MiB':>7} {'events/s':>9} "
            f"{'ratio':>6} {'p50 ms':>7} {'idx hit/1k':>10} {'idx read/1k':>11} "
            f"{'prune 1 h':>10} {'ms':>7}"
        )
        print(header)
        floor = None
        for i, days in enumerate([*WINDOWS, WINDOWS[0]]):
            horizon = Window.of_days(days, 0).horizon
            r = await measure(conn, accounts, horizon.days, f"w{i}")
            floor = floor or r["events_s"]
            label = f"{days} d" + (" again" if i == len(WINDOWS) else "")
            print(
                f"{label:>10} {horizon.days:>6} d {r['ids']:>10,.0f} {r['mib']:>7.1f} "
                f"{r['events_s']:>9,.0f} {r['events_s'] / floor:>6.3f} {r['p50_ms']:>7.1f} "
                f"{r['hit']:>10,.0f} {r['read']:>11,.0f} {r['pruned']:>10,.0f} "
                f"{r['prune_ms']:>7.1f}",
                flush=True,
            )
    finally:
        await conn.close()
        admin = await db.connect(server)
        await admin.execute(f'drop database "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
